package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A stat line whose command name holds spaces and parentheses still gives its name and
// its user plus system time.
func TestParseStat(t *testing.T) {
	line := "4242 (post gres (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 31 12 0 0 20 0 1 0 99 0 0\n"
	comm, d, err := parseStat(line)
	if err != nil || comm != "post gres (x)" || d != 43*clockTick {
		t.Errorf("parseStat = %q, %v, %v; want \"post gres (x)\", 430ms, nil", comm, d, err)
	}
	for _, bad := range []string{"", "4242 postgres S 1", "4242 (postgres) S 1 2 3", "4242 (postgres) S 1 4242 4242 0 -1 4194560 100 0 0 0 x 12 0"} {
		if _, _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}

// commCPU adds up the processes of one name and nothing else under a /proc.
func TestCommCPU(t *testing.T) {
	root := t.TempDir()
	stat := func(dir, comm string, utime, stime int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		line := dir + " (" + comm + ") S 1 1 1 0 -1 0 0 0 0 0 " + strconv.Itoa(utime) + " " + strconv.Itoa(stime) + " 0 0 20 0 1 0 5 0 0\n"
		if err := os.WriteFile(filepath.Join(root, dir, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stat("100", "postgres", 10, 5)
	stat("101", "postgres", 1, 0)
	stat("102", "emfa", 500, 500)
	stat("self", "postgres", 700, 0)                                       // not a pid
	if err := os.MkdirAll(filepath.Join(root, "103"), 0o755); err != nil { // ended: no stat
		t.Fatal(err)
	}
	if got := commCPU(root, "postgres"); got != 16*clockTick {
		t.Errorf("commCPU = %v, want %v", got, 16*clockTick)
	}
	if got := commCPU(filepath.Join(root, "missing"), "postgres"); got != 0 {
		t.Errorf("commCPU of a missing /proc = %v, want 0", got)
	}
}

func TestMachineBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	// user nice system idle iowait irq softirq steal guest guest_nice
	if err := os.WriteFile(path, []byte("cpu  100 2 30 9000 400 5 6 700 0 0\ncpu0 50 1 15 4500 200 2 3 350 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d, err := machineBusy(path); err != nil || d != 143*clockTick {
		t.Errorf("machineBusy = %v, %v; want %v (user, nice, system, irq, softirq)", d, err, 143*clockTick)
	}
	if err := os.WriteFile(path, []byte("intr 1 2 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := machineBusy(path); err == nil {
		t.Error("machineBusy of a file without the cpu line: no error")
	}
}

// On this machine: the CPU this process burns shows as its own and in the machine's busy
// time.
func TestReadCPU(t *testing.T) {
	self := os.Getpid()
	c0, err := readCPU(self, self)
	if err != nil {
		t.Fatal(err)
	}
	if c0.stub != 0 {
		t.Errorf("the stub read when it is the server: %v", c0.stub)
	}
	// Burn until the kernel has charged 50 ms of CPU to this process (bounded).
	deadline := time.Now().Add(30 * time.Second)
	x := 0
	for {
		for i := range 1_000_000 {
			x += i ^ x
		}
		if d, _ := cpuTime(self); d-c0.harness >= 50*time.Millisecond || time.Now().After(deadline) {
			break
		}
	}
	c1, err := readCPU(self, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := c1.minus(c0)
	if d.harness < 50*time.Millisecond || d.server < 50*time.Millisecond {
		t.Errorf("50 ms burnt (x=%d), read as harness %v, server %v", x, d.harness, d.server)
	}
	if d.machine <= 0 {
		t.Errorf("the machine's busy time did not grow while this process burnt 50 ms: %v", d.machine)
	}
}

// The report's CPU table has a row per scenario, the stub's column only where the server
// calls it, and PostgreSQL's column only when PostgreSQL took part.
func TestCPUTable(t *testing.T) {
	one := func() int { return 1 }
	emfa := &scenario{name: "initiate push · emfa (duo.yaml)", stub: one}
	direct := &scenario{name: "auth async push · DUO stub direct"}
	sum := map[string]summary{
		emfa.name:   {split: cpuSplit{server: 300 * time.Microsecond, harness: 60 * time.Microsecond, stub: 40 * time.Microsecond, machine: time.Millisecond}, rest: 600 * time.Microsecond},
		direct.name: {split: cpuSplit{server: 30 * time.Microsecond, machine: 100 * time.Microsecond}, rest: -10 * time.Microsecond},
	}
	var out bytes.Buffer
	cpuTable(&out, machine{cores: 2}, []*scenario{emfa, direct}, sum)
	for _, want := range []string{
		"| initiate push · emfa (duo.yaml) | 300 µs | 60 µs | 40 µs | 600 µs | 1.00 ms | 2000/s |",
		"| auth async push · DUO stub direct | 30 µs | 0 µs | – | −10 µs | 100 µs | 20000/s |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "PostgreSQL") {
		t.Errorf("a PostgreSQL column without PostgreSQL:\n%s", out.String())
	}
	out.Reset()
	cpuTable(&out, machine{cores: 2, postgres: "PostgreSQL 15"}, []*scenario{emfa}, sum)
	if !strings.Contains(out.String(), "| DUO stub | PostgreSQL | the rest |") || !strings.Contains(out.String(), "| 40 µs | 0 µs | 600 µs |") {
		t.Errorf("no PostgreSQL column with PostgreSQL:\n%s", out.String())
	}
}
