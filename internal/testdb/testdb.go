// Package testdb gives tests real stores: a fresh SQLite database in a temporary
// directory, and a fresh PostgreSQL schema when EMFA_TEST_POSTGRES_DSN is set. Tests that
// care about persistence run against each with ForEach.
package testdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// SQLite opens a fresh file database that is closed when the test ends. It starts as a
// copy of one that Open created and migrated once for the test binary, and Open finds it
// at the latest version: a store migrated from nothing each time took three times as long
// to open (350 ms against 120 ms under the race detector), in hundreds of tests.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	file, err := migratedFile()
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	path := filepath.Join(t.TempDir(), "emfa.db")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	s, err := sqlite.Open(context.Background(), "file:"+path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migrated is the file of a database that sqlite.Open created and migrated, then closed
// (its log checkpointed into the file and removed), read once.
var migrated struct {
	once sync.Once
	file []byte
	err  error
}

func migratedFile() ([]byte, error) {
	migrated.once.Do(func() {
		migrated.file, migrated.err = migrate()
	})
	return migrated.file, migrated.err
}

func migrate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "emfa-testdb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "emfa.db")
	s, err := sqlite.Open(context.Background(), "file:"+path)
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	// What a log left beside the file would hold is not in the copy.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("%s-wal holds %d bytes after Close", path, fi.Size())
	}
	return os.ReadFile(path)
}

// Memory opens a fresh in-memory SQLite database (one connection) that is closed when the
// test ends: for fuzz targets, which open one per input and would wait on a file's
// migrations twice as long.
func Memory(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ForEach runs fn once per available backend, as subtests named after it.
func ForEach(t *testing.T, fn func(t *testing.T, s store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}
