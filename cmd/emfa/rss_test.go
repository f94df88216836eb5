package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/connpark"
)

// BenchmarkIdleConnectionsRSS starts `emfa serve` as a child process (the test binary run as
// the command), opens 1,000 keep-alive connections to it as Verify would, each making one
// authenticated enrollments call and then staying idle, and reports the child's resident
// memory (VmRSS) with them open, before them, and the time from exec to the first /healthz
// 200 (issue 16's start-up). RssAnon is reported apart: the rest of VmRSS is the binary's
// own pages, mapped from the file, which no setting of serve changes. It reports figures
// rather than asserting a bound: RSS depends on the machine's load and the garbage
// collector's timing. EMFA_RSS_BIN names a built emfa to measure instead of the test
// binary, whose own code and data add a few megabytes.
func BenchmarkIdleConnectionsRSS(b *testing.B) {
	const conns = 1000
	dir := b.TempDir()
	path := filepath.Join(dir, "emfa.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0", auth: {basic: {username: verify, password: sim-password-0123456}}}
storage: {driver: sqlite, dsn: "file:%s/emfa.db", encryptionKey: %q}
log: {level: info}
providers: [{name: B, credentialPrefix: emfa, capabilities: [totp]}]
`, dir, testEncryptionKey)), 0o600)
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command(os.Args[0], "serve", "--config", path)
		cmd.Env = append(os.Environ(), "EMFA_TEST_MAIN=1")
		if bin := os.Getenv("EMFA_RSS_BIN"); bin != "" {
			cmd = exec.Command(bin, "serve", "--config", path)
		}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		addr := listenAddr(b, stderr)
		healthy(b, addr)
		startup := time.Since(start)
		request := "POST /v1/providers/emfa/enrollments HTTP/1.1\r\nHost: " + addr +
			"\r\nAuthorization: Basic dmVyaWZ5OnNpbS1wYXNzd29yZC0wMTIzNDU2\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"username\":\"alice\"}"
		call := func(c net.Conn, r *bufio.Reader) {
			if _, err := c.Write([]byte(request)); err != nil {
				b.Fatal(err)
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		first, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		call(first, bufio.NewReader(first))
		time.Sleep(2500 * time.Millisecond) // the trim of what start-up left, at a quiet tick
		idle, idleAnon := vmRSS(b, cmd.Process.Pid)
		open := make([]net.Conn, 0, conns)
		for range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			call(c, bufio.NewReader(c))
			open = append(open, c)
		}
		// Idle, as Verify's pool would leave them: parked after connpark.After, and what
		// they held returned by the quiet-spell trim a tick or two later.
		time.Sleep(connpark.After + 4*time.Second)
		rss, anon := vmRSS(b, cmd.Process.Pid)
		for _, c := range append(open, first) {
			c.Close()
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		b.ReportMetric(float64(rss)/1024, "MB-rss-1000conns")
		b.ReportMetric(float64(idle)/1024, "MB-rss-idle")
		b.ReportMetric(float64(anon)/1024, "MB-anon-1000conns")
		b.ReportMetric(float64(idleAnon)/1024, "MB-anon-idle")
		b.ReportMetric(float64(rss-idle)/conns, "KB/conn")
		b.ReportMetric(float64(startup.Microseconds())/1000, "ms-startup")
	}
}

var addrRE = regexp.MustCompile(`"addr":"([^"]+)"`)

// listenAddr reads serve's log until it says where it listens, then drains the rest.
func listenAddr(b *testing.B, stderr interface{ Read([]byte) (int, error) }) string {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil && strings.Contains(sc.Text(), "emfa serving") {
			go func() {
				for sc.Scan() {
				}
			}()
			return m[1]
		}
	}
	b.Fatal("serve exited before listening")
	return ""
}

// healthy waits for serve's first /healthz 200, on connections it does not keep: the
// memory measured is that of the benchmark's own.
func healthy(b *testing.B, addr string) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("/healthz: no 200 within 10s (%v)", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// vmRSS reads a process's resident set size and its anonymous part, in KiB.
func vmRSS(b *testing.B, pid int) (rss, anon int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	field := func(name string) int64 {
		for line := range strings.SplitSeq(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				return kb
			}
		}
		b.Fatalf("no %s in /proc/%d/status", name, pid)
		return 0
	}
	return field("VmRSS"), field("RssAnon")
}
