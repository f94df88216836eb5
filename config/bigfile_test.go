package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestLoadBoundsTheFile: a configuration path naming something far larger than a
// configuration (the SQLite database, emfa-data/emfa.db, given for emfa.yaml; a log; a
// device) is refused after reading a bounded part of it, naming the bound: it was read
// whole into memory before the YAML parser looked at it.
func TestLoadBoundsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil { // sparse: 1 GiB of zeros, no disk
		t.Skip("no sparse file here:", err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = Load(path, env(nil))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("got %.300v, want a refusal naming the file and the bound", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; !raceEnabled && got > 64<<20 {
		t.Errorf("1 GiB file: %d MiB allocated", got>>20)
	}
	// A pipe (--config /dev/stdin) is read as before.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.WriteString(minimalYAML); w.Close() }()
	defer r.Close()
	if _, err := Load(fmt.Sprintf("/dev/fd/%d", r.Fd()), env(nil)); err != nil {
		t.Errorf("from a pipe: %v", err)
	}
}
