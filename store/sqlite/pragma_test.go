package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestPragmas checks the settings the store's guarantees rest on, connection by connection:
// they are per connection, so a pool that forgot them on one would fail only sometimes.
func TestPragmas(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "emfa.db") + "?_pragma=synchronous(OFF)&_busy_timeout=1&_pragma=temp_store(FILE)&_pragma=wal_autocheckpoint(10)"
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
		{"writer", s.w, "temp_store", "2"},                               // MEMORY: a unit's savepoint journal
		{"writer", s.w, "wal_autocheckpoint", fmt.Sprint(backstopPages)}, // the checkpointer's
		{"checkpointer", s.ck.db, "journal_mode", "wal"},
		{"checkpointer", s.ck.db, "busy_timeout", "5000"},
		{"checkpointer", s.ck.db, "synchronous", "2"}, // FULL: the file is fsynced before the log starts over
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
	if got := s.ck.db.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("checkpointer pool allows %d connections, want 1", got)
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
	if s.ck != nil {
		t.Error("an in-memory store has a checkpointer; it has no log to copy")
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("in-memory pool allows %d connections, want 1", got)
	}
}

// A batch of deferred units (store.DeferSync) commits with synchronous=NORMAL, and the
// writer is back at FULL as soon as it has: the writes the store makes on that connection
// outside the group (admin tokens, self-service links) must keep their fsync. What a
// deferred unit wrote is committed like any other: seen at once, and kept by Close.
func TestDeferredBatchRestoresFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := store.DeferSync(t.Context())
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(w store.Writer) error {
		return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Username: "alice", Outcome: "SUCCESS"})
	}); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := s.w.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "2" {
		t.Errorf("after a deferred batch the writer has synchronous=%s, want 2 (FULL)", got)
	}
	if _, err := s.GetUser(t.Context(), "alice"); err != nil {
		t.Errorf("a deferred write is not seen: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetUser(t.Context(), "alice"); err != nil {
		t.Errorf("a deferred write is lost by Close: %v", err)
	}
}
