package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPragmas checks the settings the store's guarantees rest on, connection by connection:
// they are per connection, so a pool that forgot them on one would fail only sometimes.
func TestPragmas(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "emfa.db") + "?_pragma=synchronous(OFF)&_busy_timeout=1"
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, tc := range []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"writer", s.w, "journal_mode", "wal"},
		{"writer", s.w, "synchronous", "2"}, // FULL
		{"writer", s.w, "foreign_keys", "1"},
		{"writer", s.w, "busy_timeout", "5000"},
		{"writer", s.w, "query_only", "0"},
		{"reader", s.r, "journal_mode", "wal"},
		{"reader", s.r, "foreign_keys", "1"},
		{"reader", s.r, "busy_timeout", "5000"},
		{"reader", s.r, "query_only", "1"},
	} {
		t.Run(tc.pool+" "+tc.pragma, func(t *testing.T) {
			var got string
			if err := tc.db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
			}
		})
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
}

func TestPragmasMemory(t *testing.T) {
	s, err := Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.r != s.w {
		t.Error("an in-memory store has a separate reader pool; its connections would each see an empty database")
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("in-memory pool allows %d connections, want 1", got)
	}
}
