package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// PostgreSQL's CPU over a row: a backend that ends during the row (another client's, on
// a shared server) does not take its whole life's CPU out of the row's figure, which came
// out negative ("-169 µs" in a run of 2026-12-07): its time goes on in the postmaster's
// collected children's time; and one that starts counts what it used.
func TestPostgresProcessEnded(t *testing.T) {
	root := t.TempDir()
	stat := func(pid, comm string, ticks, children int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		line := pid + " (" + comm + ") S 1 1 1 0 -1 0 0 0 0 0 " + strconv.Itoa(ticks) + " 0 " + strconv.Itoa(children) + " 0 20 0 1 0 5 0 0\n"
		if err := os.WriteFile(filepath.Join(root, pid, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stat("1", "postgres", 0, 0)    // the postmaster
	stat("10", "postgres", 500, 0) // another client's backend, about to end
	stat("11", "postgres", 100, 0) // emfa's
	before := cpuSplit{postgres: commCPU(root, "postgres")}
	if err := os.RemoveAll(filepath.Join(root, "10")); err != nil {
		t.Fatal(err)
	}
	stat("1", "postgres", 0, 505) // collected 10's time: 5 ticks of it during the row
	stat("11", "postgres", 150, 0)
	stat("12", "postgres", 20, 0) // started during the row
	after := cpuSplit{postgres: commCPU(root, "postgres")}
	if got := after.minus(before).postgres; got != 75*clockTick {
		t.Errorf("PostgreSQL's CPU over the row %v, want %v (5 ticks of 10, 50 of 11, 20 of 12)", got, 75*clockTick)
	}
}
