// Package testdb gives tests real stores: a fresh SQLite database in a temporary
// directory, and a fresh PostgreSQL schema when EMFA_TEST_POSTGRES_DSN is set. Tests that
// care about persistence run against each with ForEach.
package testdb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// SQLite opens a fresh file database that is closed when the test ends.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), "file:"+filepath.Join(t.TempDir(), "emfa.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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
