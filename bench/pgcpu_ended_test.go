package main

import (
	"testing"
	"testing/fstest"
)

// PostgreSQL's processes that start and end between a row's two readings count: the
// backend of the harness's own VACUUM (ANALYZE), gone by the time the row's CPU is read,
// autovacuum's workers, parallel workers, another client's short connection. The
// postmaster collects each one's time as it ends (cutime, cstime). Until now only the
// processes alive at the end counted, so the upkeep the CPU table says it charges to a
// PostgreSQL row went to "the rest".
func TestPostgresEndedProcessesCount(t *testing.T) {
	proc := fstest.MapFS{}
	proc["1/stat"] = statLine(1, "postgres", 50, 0) // the postmaster
	proc["11/stat"] = statLine(11, "postgres", 100, 0)
	proc["20/stat"] = statLine(20, "postgres", 400, 0) // another client's backend, about to end
	proc["30/stat"] = statLine(30, "emfa", 900, 7000)  // not PostgreSQL
	before := commCPUFS(proc, "postgres")
	// During the row: the settle's backend (12) started, vacuumed for 300 ticks and ended;
	// 20 used 10 ticks more and ended; 11 used 50; the postmaster 10.
	proc["1/stat"] = statLine(1, "postgres", 60, 300+410)
	delete(proc, "20/stat")
	proc["11/stat"] = statLine(11, "postgres", 150, 0)
	proc["30/stat"] = statLine(30, "emfa", 1900, 9000)
	after := commCPUFS(proc, "postgres")
	if got, want := after-before, (10+300+10+50)*clockTick; got != want {
		t.Errorf("PostgreSQL's CPU over the row %v, want %v (the postmaster's 10 ticks, the ended backends' 300 and 10, 11's 50)", got, want)
	}
}

// A backend that ends while /proc is read is counted once: not read alive and then again
// in the postmaster's collected time, nor in neither. The scan is repeated until the
// collected times held still around it.
func TestPostgresEndsDuringTheScan(t *testing.T) {
	for _, tc := range []struct {
		name          string
		child, parent string // the child's pid sorts before or after the postmaster's
	}{{"child read first", "1000", "2000"}, {"postmaster read first", "3000", "2000"}} {
		m := fstest.MapFS{}
		m[tc.parent+"/stat"] = statLine(2000, "postgres", 5, 0)
		m[tc.child+"/stat"] = statLine(0, "postgres", 100, 0)
		opens, endAt := 0, 0
		proc := hookFS{m: m, hook: func(name string) {
			opens++
			if opens == endAt { // the child ends and is collected, mid-scan
				delete(m, tc.child+"/stat")
				m[tc.parent+"/stat"] = statLine(2000, "postgres", 5, 100)
			}
		}}
		want := 105 * clockTick
		// End the child at each point of the first scans in turn.
		for endAt = 1; endAt <= 12; endAt++ {
			opens = 0
			m[tc.parent+"/stat"] = statLine(2000, "postgres", 5, 0)
			m[tc.child+"/stat"] = statLine(0, "postgres", 100, 0)
			if got := commCPUFS(proc, "postgres"); got != want {
				t.Errorf("%s, the child ending at open %d: %v, want %v", tc.name, endAt, got, want)
			}
		}
	}
}
