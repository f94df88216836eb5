package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testfs"
	"github.com/emfa/emfa/store"
)

// TestDeferredCommitFails: a deferred batch (synchronous=NORMAL for its commit)
// whose prepared COMMIT fails, the transaction rolled back or left open (SQLITE_BUSY),
// tells its caller, writes nothing of it, leaves the writer's connection at
// synchronous=FULL and in no transaction: the durable and deferred batches after commit
// on the same connection, nothing runs on a closed one, no descriptor is left.
func TestDeferredCommitFails(t *testing.T) {
	for _, leftOpen := range []bool{false, true} {
		t.Run(fmt.Sprint("left open ", leftOpen), func(t *testing.T) {
			s, f, path := openFaulty(t)
			ctx := context.Background()
			dctx := store.DeferSync(ctx)
			if err := s.Update(dctx, audit(dctx, "d-first")); err != nil {
				t.Fatal(err)
			}
			users(t, s, "d") // the reader opened
			fds := testfs.OpenFiles(t, path)
			cerr := errors.New("injected: database is locked (5) (SQLITE_BUSY)")
			f.commitLeavesOpen.Store(leftOpen)
			f.commitErr.Store(&cerr)
			f.failCommit.Store(f.commits.Load() + 1)
			err := s.Update(dctx, audit(dctx, "d-failed"))
			if err == nil || !strings.Contains(err.Error(), cerr.Error()) {
				t.Errorf("the deferred batch whose COMMIT failed: %v, want the COMMIT's error", err)
			}
			if n := audits(t, s, "d-failed"); n != 0 {
				t.Errorf("%d rows of the batch whose COMMIT failed", n)
			}
			if got := writerSync(t, s); got != 2 {
				t.Errorf("after the failed deferred batch: synchronous %d, want 2 (FULL)", got)
			}
			for i, c := range []context.Context{ctx, dctx, ctx} {
				if err := s.Update(c, audit(c, fmt.Sprint("d-after-", i))); err != nil {
					t.Errorf("batch %d after: %v", i, err)
				}
			}
			if n := audits(t, s, "d-after-"); n != 3 {
				t.Errorf("%d rows of the 3 batches after, want 3", n)
			}
			if got := writerSync(t, s); got != 2 {
				t.Errorf("after: synchronous %d, want 2 (FULL)", got)
			}
			if n := f.closed.Load(); n != 0 {
				t.Errorf("%d connections closed, want 0", n)
			}
			noStrayConns(t, f, path, fds)
		})
	}
}

// TestCommitBadConnNotRetried: a COMMIT that fails with driver.ErrBadConn (the
// batch's units ran) fails the batch's caller and is not retried on another connection
// (a retry would run the units twice, the first run's fate unknown); the connection is
// discarded with its statements, and the next batch commits on a fresh one.
func TestCommitBadConnNotRetried(t *testing.T) {
	s, f, path := openFaulty(t)
	ctx := context.Background()
	if err := createUser(s, ctx, "b"); err != nil {
		t.Fatal(err)
	}
	users(t, s, "b")
	fds, opened, begins := testfs.OpenFiles(t, path), f.opened.Load(), f.begins.Load()
	f.commitBad.Store(1)
	runs := 0
	err := s.Update(ctx, func(w store.Writer) error {
		runs++
		return w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "b-1"})
	})
	if err == nil {
		t.Error("a batch whose COMMIT found the connection broken: no error")
	}
	if runs != 1 || f.begins.Load()-begins != 1 {
		t.Errorf("the unit ran %d times in %d transactions, want once in one", runs, f.begins.Load()-begins)
	}
	if n := audits(t, s, "b-1"); n != 0 {
		t.Errorf("%d rows of the batch whose COMMIT failed", n)
	}
	if err := s.Update(ctx, audit(ctx, "b-2")); err != nil {
		t.Errorf("the batch after: %v", err)
	}
	if got := f.closed.Load(); got != 1 {
		t.Errorf("%d connections closed, want the broken one", got)
	}
	if got := f.opened.Load() - opened; got != 1 {
		t.Errorf("%d connections opened, want 1", got)
	}
	noStrayConns(t, f, path, fds)
}
