package main

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"testing"
	"testing/fstest"
)

// hookFS is a /proc whose files a test changes as they are read: hook runs before each
// open, so that time can pass between one reading and the next.
type hookFS struct {
	m    fstest.MapFS
	hook func(name string)
}

func (h hookFS) Open(name string) (fs.File, error) {
	h.hook(name)
	return h.m.Open(name)
}

// statLine is a /proc/<pid>/stat line of comm with own and children's (cutime) ticks.
func statLine(pid int, comm string, own, children int64) *fstest.MapFile {
	return &fstest.MapFile{Data: fmt.Appendf(nil, "%d (%s) S 1 1 1 0 -1 0 0 0 0 0 %d 0 %d 0 20 0 1 0 5 0 0\n", pid, comm, own, children)}
}

// The machine's busy time is read around the processes' times, before them as a
// measurement starts and after them as it ends, so that its window holds theirs. Read
// after them at both ends, work still running as the measurement started (the warm-up's
// tail: emfa's deferred writes, PostgreSQL committing them) was charged to the server
// and PostgreSQL but fell before the machine's window, and "the rest" came out negative
// (−28 µs and −31 µs a request in a PostgreSQL paced row).
func TestMachineWindowHoldsTheProcesses(t *testing.T) {
	const server, stop = 7, 100 // the server works, one tick a read, until the 100th read
	clock := int64(0)
	m := fstest.MapFS{}
	set := func() {
		busy := min(clock, stop)
		m[strconv.Itoa(server)+"/stat"] = statLine(server, "emfa", busy, 0)
		m[strconv.Itoa(os.Getpid())+"/stat"] = statLine(os.Getpid(), "bench", 0, 0)
		m["stat"] = &fstest.MapFile{Data: fmt.Appendf(nil, "cpu  %d 0 0 9000 0 0 0 0 0 0\n", 5000+busy)}
	}
	set()
	proc := hookFS{m: m, hook: func(string) { clock++; set() }}
	c0, err := readCPUFrom(proc, server, 0)
	if err != nil {
		t.Fatal(err)
	}
	clock = 2 * stop // the server has finished
	c1, err := readCPUFrom(proc, server, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := c1.minus(c0)
	if d.server <= 0 || d.rest() < 0 {
		t.Errorf("server %v, machine %v, rest %v: the machine's window misses work the server's holds", d.server, d.machine, d.rest())
	}
	// Only the server worked: the rest is the ticks between the readings, no more.
	if d.rest() > 3*clockTick {
		t.Errorf("server %v, machine %v, rest %v: the machine's window is not the measurement's", d.server, d.machine, d.rest())
	}
}
