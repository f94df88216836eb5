package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testfs"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// writerSync is the writer connection's synchronous setting between batches (the pool's one
// connection).
func writerSync(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeferredBatchBeginBad: a deferred batch whose connection takes the
// PRAGMA that defers its sync (synchronous=NORMAL) and is then found broken at BEGIN
// runs on a fresh connection, and neither connection is left at NORMAL for a durable
// batch: the broken one is closed, the fresh one is put back to FULL after the batch,
// and the durable batch after commits on a connection at FULL.
func TestDeferredBatchBeginBad(t *testing.T) {
	s, f, path := openFaulty(t)
	ctx := context.Background()
	dctx := store.DeferSync(ctx)
	if err := s.Update(dctx, audit(dctx, "x-0")); err != nil {
		t.Fatal(err)
	}
	users(t, s, "x") // the reader opened
	fds, opened := testfs.OpenFiles(t, path), f.opened.Load()
	f.beginBad.Store(1)
	if err := s.Update(dctx, audit(dctx, "x-1")); err != nil {
		t.Errorf("a deferred batch whose connection broke at BEGIN, after its PRAGMA: %v", err)
	}
	if n := f.beginBad.Load(); n != 0 {
		t.Fatalf("the fault did not happen (%d left)", n)
	}
	if got := f.opened.Load() - opened; got != 1 {
		t.Errorf("%d connections opened, want 1", got)
	}
	if got := f.closed.Load(); got != 1 {
		t.Errorf("%d connections closed, want the broken one", got)
	}
	if got := writerSync(t, s); got != 2 {
		t.Errorf("after the deferred batch: synchronous %d, want 2 (FULL)", got)
	}
	if err := s.Update(ctx, audit(ctx, "x-2")); err != nil {
		t.Errorf("the durable batch after: %v", err)
	}
	if got := writerSync(t, s); got != 2 {
		t.Errorf("after the durable batch: synchronous %d, want 2 (FULL)", got)
	}
	if n := audits(t, s, "x-"); n != 3 {
		t.Errorf("%d audit rows x-*, want 3", n)
	}
	noStrayConns(t, f, path, fds)
}

// TestRetriesMeetClose: Close while the writer goes through broken connections
// (every BEGIN fails with driver.ErrBadConn): the unit is answered with an error, Close
// returns, every connection opened is closed, and no descriptor is left on the file.
func TestRetriesMeetClose(t *testing.T) {
	s, f, path := openFaulty(t)
	ctx := context.Background()
	if err := createUser(s, ctx, "y1"); err != nil {
		t.Fatal(err)
	}
	f.beginBad.Store(1 << 20)
	done := make(chan error, 8)
	for i := range 8 {
		go func() { done <- createUser(s, ctx, "y-"+string(rune('a'+i))) }()
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for range 8 {
		if err := testwait.Recv(t, "a write on broken connections to end", done); err == nil {
			t.Error("a write on broken connections succeeded")
		} else if msg := err.Error(); !strings.Contains(msg, "bad connection") && !strings.Contains(msg, "store closed") {
			t.Errorf("a write: %v, want driver.ErrBadConn or store closed", err)
		}
	}
	if err := testwait.Recv(t, "Close to end", closed); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got, want := f.closed.Load(), f.opened.Load(); got != want {
		t.Errorf("%d connections closed of %d opened", got, want)
	}
	if n := testfs.OpenFiles(t, path); n != 0 {
		t.Errorf("%d descriptors left on the database file after Close", n)
	}
}

// TestLeftOpenRolledBackOrDiscarded: a transaction a failed ROLLBACK left
// open on the writer's connection is rolled back before the next batch, on the same
// connection (none closed); when that ROLLBACK fails too, the next batch cannot begin on
// it and runs on a fresh connection (the broken one closed). Either way the writes after
// commit and the failed unit's are not there, durable and deferred batches alike.
func TestLeftOpenRolledBackOrDiscarded(t *testing.T) {
	for _, tt := range []struct {
		name       string
		stmtFails  bool
		deferred   bool
		wantClosed int32
	}{
		{"rolled back", false, false, 0},
		{"rolled back/deferred", false, true, 0},
		{"ROLLBACK fails too", true, false, 1},
		{"ROLLBACK fails too/deferred", true, true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, f, _ := openFaulty(t)
			fail := &f.rollbackStmtFail
			ctx := context.Background()
			if tt.deferred {
				ctx = store.DeferSync(ctx)
			}
			if err := createUser(s, ctx, "v1"); err != nil {
				t.Fatal(err)
			}
			f.rollbackFail.Store(1)
			if tt.stmtFails {
				fail.Store(1)
			}
			if err := s.Update(ctx, func(w store.Writer) error {
				if err := w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "v-failed"}); err != nil {
					return err
				}
				return errors.New("the unit's own failure")
			}); err == nil {
				t.Fatal("a failing unit succeeded")
			}
			for i := range 3 {
				if err := createUser(s, ctx, fmt.Sprint("v", i+2)); err != nil {
					t.Errorf("write %d after a failed ROLLBACK: %v", i+1, err)
				}
			}
			if n := fail.Load(); n != 0 {
				t.Errorf("the ROLLBACK statement was not run (%d faults left)", n)
			}
			if n := users(t, s, "v"); n != 4 {
				t.Errorf("%d users v*, want 4", n)
			}
			if n := audits(t, s, "v-failed"); n != 0 {
				t.Errorf("%d audit rows of the failed unit, want none", n)
			}
			if n := f.closed.Load(); n != tt.wantClosed {
				t.Errorf("%d connections closed, want %d", n, tt.wantClosed)
			}
			if got := writerSync(t, s); got != 2 {
				t.Errorf("synchronous %d after, want 2 (FULL)", got)
			}
			if n := f.misused.Load(); n != 0 {
				t.Errorf("%d statements ran on a connection closed", n)
			}
		})
	}
}

// TestBadConnAtUnitStatement: a unit alone whose second statement finds the
// connection broken (driver.ErrBadConn) after its first one ran fails, and runs
// once: the batch is not taken to a fresh connection as one found broken at BEGIN is.
// The connection is closed; the next write runs on a fresh one.
func TestBadConnAtUnitStatement(t *testing.T) {
	s, f, _ := openFaulty(t)
	arm := &f.auditBad
	ctx := context.Background()
	if err := s.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "w-0"}); err != nil { // prepared
		t.Fatal(err)
	}
	opened := f.opened.Load()
	runs := 0
	err := s.Update(ctx, func(w store.Writer) error {
		runs++
		if err := w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "w-a"}); err != nil {
			return err
		}
		arm.Store(true) // the unit's next audit statement meets the connection broken
		return w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "w-1"})
	})
	if !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("a unit whose statement met a broken connection: %v, want driver.ErrBadConn", err)
	}
	if runs != 1 {
		t.Errorf("the unit ran %d times, want once", runs)
	}
	if got := f.opened.Load() - opened; got != 0 {
		t.Errorf("%d connections opened for the batch, want none (no retry elsewhere)", got)
	}
	if err := s.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "w-2"}); err != nil {
		t.Errorf("the write after: %v", err)
	}
	if n := f.closed.Load(); n != 1 {
		t.Errorf("%d connections closed, want the broken one", n)
	}
	if n := audits(t, s, "w-"); n != 2 {
		t.Errorf("%d audit rows w-*, want 2 (w-0, w-2; w-a rolled back with its unit)", n)
	}
	if n := f.misused.Load(); n != 0 {
		t.Errorf("%d statements ran on a connection closed", n)
	}
}
