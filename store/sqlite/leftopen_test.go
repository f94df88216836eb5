package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestNoTransactionLeftBetweenBatches: a ROLLBACK that fails, leaving the
// batch's transaction open, left it open until the next batch rolled it back: meanwhile
// the writer's connection served the pool. A write made on the pool outside the group
// (CreateGroup, the sync queue's updates) ran inside that transaction, was told it
// succeeded, and was rolled back with it by the next batch: an acknowledged write lost.
// In memory, where the readers share the connection, reads meanwhile saw the writes of the
// unit told it failed. The writer tries the ROLLBACK again before it gives the
// connection back, and discards the connection when that fails too (closing it ends the
// transaction): the write between then runs on a fresh one.
func TestNoTransactionLeftBetweenBatches(t *testing.T) {
	for _, tt := range []struct {
		name   string
		memory bool
		// again: the ROLLBACK tried again fails too; the connection is discarded.
		again  bool
		closed int32
	}{
		{name: "file"},
		{name: "memory", memory: true},
		{name: "file, ROLLBACK fails again", again: true, closed: 1},
	} {
		memory := tt.memory
		t.Run(tt.name, func(t *testing.T) {
			s, f := openFaultyAs(t, memory)
			ctx := context.Background()
			if err := createUser(s, ctx, "l1"); err != nil {
				t.Fatal(err)
			}
			f.rollbackFail.Store(1)
			if tt.again {
				f.rollbackStmtFail.Store(1)
			}
			if err := s.Update(ctx, func(w store.Writer) error {
				if err := w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "l-failed"}); err != nil {
					return err
				}
				return errors.New("the unit's own failure")
			}); err == nil {
				t.Fatal("a failing unit succeeded")
			}
			if n := f.rollbackFail.Load(); n != 0 {
				t.Fatalf("the ROLLBACK did not fail (%d faults left)", n)
			}
			if n := audits(t, s, "l-failed"); n != 0 {
				t.Errorf("%d rows of the unit told it failed are read before the next batch", n)
			}
			if err := s.CreateGroup(ctx, store.Group{ID: "g-between", Name: "between", CreatedAt: reviewAt, UpdatedAt: reviewAt}); err != nil {
				t.Fatalf("a write on the pool between the batches: %v", err)
			}
			if err := createUser(s, ctx, "l2"); err != nil {
				t.Errorf("the batch after: %v", err)
			}
			var n int
			if err := s.r.QueryRow(`SELECT count(*) FROM sync_groups WHERE id = 'g-between'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("the group created between the batches, told it was: %d rows, want 1", n)
			}
			if n := users(t, s, "l"); n != 2 {
				t.Errorf("%d users l*, want 2", n)
			}
			if n := audits(t, s, "l-failed"); n != 0 {
				t.Errorf("%d rows of the unit told it failed", n)
			}
			if n := f.closed.Load(); n != tt.closed {
				t.Errorf("%d connections closed, want %d", n, tt.closed)
			}
		})
	}
}
