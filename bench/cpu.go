package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Where the machine's CPU went while a row ran. The server's own CPU per request says what
// a request costs the server; it does not say why a row's throughput stops where it does.
// On a machine whose CPUs the load generator, the DUO stub and PostgreSQL share with the
// server, a closed loop stops where their CPU per request, added up, fills the CPUs. So
// each row also reads, over its measurement, the CPU time of:
//
//   - the server (emfa, the bare mediator, or the stub in the direct rows);
//   - the load generator (this process: its workers and its fsync probe);
//   - the DUO stub, in the rows that go through it;
//   - PostgreSQL's processes (all of them: backends, WAL writer, checkpointer, and those
//     that ended meanwhile, through the time the postmaster collected from them: commCPU);
//   - the whole machine, busy (user, nice, system, irq, softirq; not idle, I/O wait or
//     steal), from /proc/stat.
//
// What the machine spent beyond the four named is the rest: the kernel's own threads (the
// file system's journal, the flusher), the other emfa instances waiting for their rows,
// and anything else running here.

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's and /proc/stat's times: 100 on
// every Linux ABI Go supports.
const clockTick = 10 * time.Millisecond

// procRoot is where the CPU times are read: /proc (a test's own in tests).
var procRoot fs.FS = os.DirFS("/proc")

// cpuTime is the user plus system CPU time the process has used, to a resolution of 10 ms.
func cpuTime(pid int) (time.Duration, error) { return procCPU(procRoot, pid) }

func procCPU(proc fs.FS, pid int) (time.Duration, error) {
	b, err := fs.ReadFile(proc, strconv.Itoa(pid)+"/stat")
	if err != nil {
		return 0, err
	}
	_, d, err := parseStat(string(b))
	return d, err
}

// cpuSplit is CPU time by consumer, cumulative or over a measurement.
type cpuSplit struct {
	server, harness, stub, postgres, machine time.Duration
	// machineFirst, in a cumulative reading, is the machine's busy time read before the
	// processes', machine the one read after them: a measurement's machine time runs
	// from its start's first to its end's last, so that its window holds every
	// process's. Read after them at both ends, work running as the measurement began
	// (the warm-up's tail) counted in the processes' times and not the machine's, and
	// the rest came out negative.
	machineFirst time.Duration
}

func (a cpuSplit) minus(b cpuSplit) cpuSplit {
	return cpuSplit{server: a.server - b.server, harness: a.harness - b.harness, stub: a.stub - b.stub,
		postgres: a.postgres - b.postgres, machine: a.machine - b.machineFirst}
}

// per is a divided by n requests.
func (a cpuSplit) per(n int) cpuSplit {
	if n == 0 {
		return cpuSplit{}
	}
	d := time.Duration(n)
	return cpuSplit{server: a.server / d, harness: a.harness / d, stub: a.stub / d, postgres: a.postgres / d, machine: a.machine / d}
}

// rest is the machine's busy time beyond the four consumers named. Each is read to a
// clock tick (10 ms), so a rest of a few ticks either way is rounding, not work.
func (a cpuSplit) rest() time.Duration {
	return a.machine - a.server - a.harness - a.stub - a.postgres
}

// readCPU reads the CPU time used so far by server, by the stub (when stub is not 0 and not
// the server), by this process, by PostgreSQL's processes and by the whole machine.
func readCPU(server, stub int) (cpuSplit, error) { return readCPUFrom(procRoot, server, stub) }

// readCPUFrom is readCPU from proc, a /proc.
func readCPUFrom(proc fs.FS, server, stub int) (cpuSplit, error) {
	var c cpuSplit
	var err error
	if c.machineFirst, err = machineBusyFS(proc, "stat"); err != nil {
		return c, err
	}
	if c.server, err = procCPU(proc, server); err != nil {
		return c, err
	}
	if stub != 0 && stub != server {
		if c.stub, err = procCPU(proc, stub); err != nil {
			return c, err
		}
	}
	if c.harness, err = procCPU(proc, os.Getpid()); err != nil {
		return c, err
	}
	c.postgres = commCPUFS(proc, "postgres")
	if c.machine, err = machineBusyFS(proc, "stat"); err != nil {
		return c, err
	}
	return c, nil
}

// commCPU is the CPU time of the processes under root (a /proc) whose command name is
// comm, and of their children that ended: each one's own time, plus what it collected
// from its children as they ended (cutime, cstime). PostgreSQL's postmaster collects
// every backend, autovacuum worker and parallel worker it started, so a process that
// starts and ends between two readings counts (the backend of the harness's own VACUUM,
// gone by the time a row's CPU is read; another client's short connection), and one that
// ends counts up to its end rather than taking its whole life's time out of the
// difference. Until 2026-12-07 only the processes alive at both readings counted.
func commCPU(root, comm string) time.Duration { return commCPUFS(os.DirFS(root), comm) }

func commCPUFS(proc fs.FS, comm string) time.Duration {
	// A child that ends while the directory is read can be read alive and then again in
	// its parent's collected time, or in neither: a scan counts once the collected times
	// held still from the scan before it to the scan after it (or the tenth, on a server
	// whose clients come and go faster than that: off by a short-lived backend at most).
	prev, cur := commStats(proc, comm), commStats(proc, comm)
	for range 8 {
		next := commStats(proc, comm)
		if sameChildren(prev, cur) && sameChildren(cur, next) {
			break
		}
		prev, cur = cur, next
	}
	var total time.Duration
	for _, t := range cur {
		total += t.own + t.children
	}
	return total
}

// procTimes is a process's CPU time, its own and its ended children's.
type procTimes struct{ own, children time.Duration }

// commStats reads the processes under proc named comm, by pid. One that ends between the
// listing and the read is left out.
func commStats(proc fs.FS, comm string) map[int]procTimes {
	out := map[int]procTimes{}
	ents, err := fs.ReadDir(proc, ".")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := fs.ReadFile(proc, e.Name()+"/stat")
		if err != nil {
			continue
		}
		name, d, err := parseStat(string(b))
		if err == nil && name == comm {
			out[pid] = procTimes{own: d, children: parseChildren(string(b))}
		}
	}
	return out
}

// sameChildren says whether every process of both readings had collected the same time
// from ended children in both.
func sameChildren(a, b map[int]procTimes) bool {
	for pid, t := range a {
		if u, ok := b[pid]; ok && u.children != t.children {
			return false
		}
	}
	return true
}

// parseStat reads a /proc/<pid>/stat line: the command name (field 2) and the user plus
// system CPU time (fields 14 and 15, in clock ticks).
func parseStat(s string) (comm string, cpu time.Duration, err error) {
	// The command name is in parentheses and may hold spaces and parentheses itself.
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[end+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return "", 0, errors.New("unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, errors.New("unexpected /proc stat format")
	}
	return s[open+1 : end], time.Duration(utime+stime) * clockTick, nil
}

// parseChildren is the CPU time of the ended children a /proc/<pid>/stat line's process
// waited for (fields 16 and 17, cutime and cstime), 0 if unreadable.
func parseChildren(s string) time.Duration {
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0
	}
	cu, err1 := strconv.ParseInt(f[13], 10, 64)
	cs, err2 := strconv.ParseInt(f[14], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(cu+cs) * clockTick
}

// machineBusy is the CPU time all the machine's CPUs have been busy, from the first line
// of /proc/stat ("cpu  user nice system idle iowait irq softirq steal guest guest_nice",
// in clock ticks): user, nice, system, irq and softirq. Guest time is inside user already;
// idle, I/O wait and steal (time the hypervisor gave to others) are not busy.
func machineBusy(path string) (time.Duration, error) {
	return machineBusyFS(os.DirFS(filepath.Dir(path)), filepath.Base(path))
}

func machineBusyFS(proc fs.FS, name string) (time.Duration, error) {
	b, err := fs.ReadFile(proc, name)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New(name + ": unexpected format")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, errors.New(name + ": unexpected format")
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}
