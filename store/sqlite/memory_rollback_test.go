package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"modernc.org/sqlite"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// openFaultyMemory is Open(":memory:") with the one connection a faultConn.
// openFaultyAs is openFaultyMemory for memory, else openFaulty's file store.
func openFaultyAs(t *testing.T, memory bool) (*Store, *connFaults) {
	t.Helper()
	if memory {
		return openFaultyMemory(t)
	}
	s, f, _ := openFaulty(t)
	return s, f
}

func openFaultyMemory(t *testing.T) (*Store, *connFaults) {
	t.Helper()
	ctx := t.Context()
	base, query, memory, err := parseDSN(":memory:")
	if err != nil || !memory {
		t.Fatal(base, memory, err)
	}
	wq := withPragmas(query, map[string]string{"busy_timeout": "5000", "foreign_keys": "1", "synchronous": "FULL", "temp_store": "MEMORY"})
	wq.Set("_txlock", "immediate")
	c, err := sqlite.NewConnector(base + "?" + wq.Encode())
	if err != nil {
		t.Fatal(err)
	}
	f := &connFaults{}
	w := sql.OpenDB(faultConnector{Connector: closingConns{c}, f: f})
	keepOne(w)
	if err := initWriter(ctx, w, true, false, sqlstore.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := newStore(w, w, nil, nil, sqlstore.DeferredSync("FULL", "NORMAL"))
	t.Cleanup(func() { s.Close() })
	return s, f
}

// TestMemoryRollbackFails: the in-memory store's one connection is its
// database. A ROLLBACK that fails and leaves the transaction open makes the next BEGIN
// fail, and the writer then discarded the connection as broken (f90c49b): for a file a
// fresh connection is the same database; for ":memory:" it is a new, empty one, without
// even the schema. What was written before must still be there, the failed unit's
// writes not, and the store must take writes on the same connection.
func TestMemoryRollbackFails(t *testing.T) {
	for _, deferred := range []bool{false, true} {
		t.Run(fmt.Sprint("deferred=", deferred), func(t *testing.T) { testMemoryRollbackFails(t, deferred) })
	}
}

func testMemoryRollbackFails(t *testing.T, deferred bool) {
	s, f := openFaultyMemory(t)
	ctx := context.Background()
	if deferred {
		ctx = store.DeferSync(ctx)
	}
	if err := createUser(s, ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	f.rollbackFail.Store(1)
	if err := s.Update(ctx, func(w store.Writer) error {
		if err := w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "m-failed"}); err != nil {
			return err
		}
		return errors.New("the unit's own failure")
	}); err == nil {
		t.Fatal("a failing unit succeeded")
	}
	werr := createUser(s, ctx, "m2")
	var n int
	rerr := s.w.QueryRow(`SELECT count(*) FROM users WHERE id LIKE 'm%'`).Scan(&n)
	t.Logf("write after the failed ROLLBACK: %v; users m*: %d, %v; connections opened %d, closed %d", werr, n, rerr, f.opened.Load(), f.closed.Load())
	if werr != nil {
		t.Errorf("the write after a failed ROLLBACK: %v", werr)
	}
	if rerr != nil || n != 2 {
		t.Errorf("users m*: %d, %v; want 2 (m1, written before, and m2)", n, rerr)
	}
	if rerr == nil {
		if n := audits(t, s, "m-failed"); n != 0 {
			t.Errorf("%d audit rows of the failed unit, want none", n)
		}
	}
	if n := f.closed.Load(); n != 0 {
		t.Errorf("%d connections closed, want none (the database)", n)
	}
}
