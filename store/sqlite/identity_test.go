package sqlite_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/store/sqlite"
)

// TestPingNoticesVanishedFile: a database file deleted (rm -rf of its directory) or
// replaced under an open store makes Ping fail, naming the file: SQLite would go on
// committing to the unlinked file, and every write would be lost at the next start.
func TestPingNoticesVanishedFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, path string)
	}{
		{"directory removed", func(t *testing.T, path string) {
			if err := os.RemoveAll(filepath.Dir(path)); err != nil {
				t.Fatal(err)
			}
		}},
		{"file replaced", func(t *testing.T, path string) {
			other := path + ".other"
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "emfa.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			s := open(t, "file:"+path)
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping before: %v", err)
			}
			tc.do(t, path)
			err := s.Ping(t.Context())
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no longer") {
				t.Errorf("Ping after the file went: %v, want an error naming %s", err, path)
			}
		})
	}
	// In memory there is no file to lose.
	if err := open(t, ":memory:").Ping(t.Context()); err != nil {
		t.Errorf("Ping in memory: %v", err)
	}
}

// TestCreated: Open says whether it created the database file, so that a mistyped
// storage.dsn is not silently a new, empty store.
func TestCreated(t *testing.T) {
	dsn := fileDSN(t)
	s, err := sqlite.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Created() {
		t.Error("a new file: Created() is false")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if open(t, dsn).Created() {
		t.Error("an existing file: Created() is true")
	}
}
