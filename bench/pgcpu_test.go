package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// PostgreSQL's CPU over a row is each process's own difference: a backend that ends
// during the row (another client's, on a shared server) does not take its whole life's
// CPU out of the row's figure, which came out negative ("-169 µs" in a run of
// 2026-12-07), and one that starts counts what it used.
func TestPostgresProcessEnded(t *testing.T) {
	root := t.TempDir()
	stat := func(pid, comm string, ticks int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		line := pid + " (" + comm + ") S 1 1 1 0 -1 0 0 0 0 0 " + strconv.Itoa(ticks) + " 0 0 0 20 0 1 0 5 0 0\n"
		if err := os.WriteFile(filepath.Join(root, pid, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stat("10", "postgres", 500) // another client's backend, about to end
	stat("11", "postgres", 100) // emfa's
	before := cpuSplit{postgres: commCPU(root, "postgres"), pgProcs: commCPUs(root, "postgres")}
	if err := os.RemoveAll(filepath.Join(root, "10")); err != nil {
		t.Fatal(err)
	}
	stat("11", "postgres", 150)
	stat("12", "postgres", 20) // started during the row
	after := cpuSplit{postgres: commCPU(root, "postgres"), pgProcs: commCPUs(root, "postgres")}
	if got := after.minus(before).postgres; got != 70*clockTick {
		t.Errorf("PostgreSQL's CPU over the row %v, want %v (50 ticks of 11, 20 of 12)", got, 70*clockTick)
	}
}
