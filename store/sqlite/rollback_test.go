package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestOneRollbackAfterAFailedCommit: a batch whose COMMIT fails is rolled back
// at once; the writer then marked the connection unsure whatever that ROLLBACK did, and
// ran a second one before the next batch (or before the deferred sync's reset), on a
// connection out of its transaction: SQLite refused it, "no transaction is active". The
// ROLLBACK runs once; a second only when the first failed for another reason than
// finding no transaction (it may have left one open), and then the connection is kept
// when that one works, discarded when it fails too. Each time the unit is told the
// COMMIT's error, none of it is there, and the batches after commit at synchronous=FULL.
func TestOneRollbackAfterAFailedCommit(t *testing.T) {
	busy := errors.New("injected: database is locked (5) (SQLITE_BUSY)")
	full := errors.New("injected: database or disk is full (13) (SQLITE_FULL)")
	for _, tt := range []struct {
		name     string
		cerr     error
		leftOpen bool
		// rollbackFails: the first ROLLBACK fails, the transaction left open; and
		// stmtFails: the one before the next batch too.
		rollbackFails, stmtFails bool
		rollbacks, idle          int32 // ROLLBACKs run, and refused for no transaction
		closed                   int32
	}{
		{name: "left open", cerr: busy, leftOpen: true, rollbacks: 1},
		{name: "rolled back", cerr: full, rollbacks: 1, idle: 1},
		{name: "left open, ROLLBACK fails", cerr: busy, leftOpen: true, rollbackFails: true, rollbacks: 2},
		{name: "left open, both ROLLBACKs fail", cerr: busy, leftOpen: true, rollbackFails: true, stmtFails: true, rollbacks: 2, closed: 1},
	} {
		for _, deferred := range []bool{false, true} {
			t.Run(fmt.Sprint(tt.name, "/deferred=", deferred), func(t *testing.T) {
				s, f, _ := openFaulty(t)
				ctx := context.Background()
				if deferred {
					ctx = store.DeferSync(ctx)
				}
				if err := s.Update(ctx, audit(ctx, "r-first")); err != nil {
					t.Fatal(err)
				}
				users(t, s, "r") // the reader opened
				fds := f.opened.Load()
				cerr := tt.cerr
				f.commitLeavesOpen.Store(tt.leftOpen)
				f.commitErr.Store(&cerr)
				f.failCommit.Store(f.commits.Load() + 1)
				if tt.rollbackFails {
					f.rollbackFail.Store(1)
				}
				if tt.stmtFails {
					f.rollbackStmtFail.Store(1)
				}
				rollbacks, idle := f.rollbacks.Load(), f.idle.Load()
				err := s.Update(ctx, audit(ctx, "r-failed"))
				if err == nil || !strings.Contains(err.Error(), cerr.Error()) {
					t.Errorf("the batch whose COMMIT failed: %v, want the COMMIT's error", err)
				}
				if err := s.Update(ctx, audit(ctx, "r-after-0")); err != nil {
					t.Errorf("the batch after: %v", err)
				}
				if got := f.rollbacks.Load() - rollbacks; got != tt.rollbacks {
					t.Errorf("%d ROLLBACKs from the failed COMMIT through the batch after, want %d", got, tt.rollbacks)
				}
				if got := f.idle.Load() - idle; got != tt.idle {
					t.Errorf("%d ROLLBACKs on a connection out of its transaction, want %d", got, tt.idle)
				}
				if err := s.Update(ctx, audit(ctx, "r-after-1")); err != nil {
					t.Errorf("the second batch after: %v", err)
				}
				if n := audits(t, s, "r-failed"); n != 0 {
					t.Errorf("%d rows of the batch whose COMMIT failed", n)
				}
				if n := audits(t, s, "r-after-"); n != 2 {
					t.Errorf("%d rows of the 2 batches after, want 2", n)
				}
				if got := f.closed.Load(); got != tt.closed {
					t.Errorf("%d connections closed, want %d", got, tt.closed)
				}
				if got := f.opened.Load() - fds; got != tt.closed {
					t.Errorf("%d connections opened, want %d", got, tt.closed)
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
}
