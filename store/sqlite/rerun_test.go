package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestRollbackFailsBeforeTheGuardedRun: a unit of a batch run bare fails, the
// transaction is rolled back and the batch runs again, each unit in a savepoint. When
// that ROLLBACK failed, leaving the transaction open, the second run's BEGIN found it
// ("cannot start a transaction within a transaction") and the connection was discarded:
// every unit of the batch told it failed, the innocent ones too, and for ":memory:" the
// database lost whole, where a lone unit's failed ROLLBACK keeps it
// (TestMemoryRollbackFails). The ROLLBACK is tried again before that BEGIN, as before the
// connection goes back to the pool: the batch runs again on the same connection, and each
// unit is told the truth.
func TestRollbackFailsBeforeTheGuardedRun(t *testing.T) {
	for _, memory := range []bool{false, true} {
		name := "file"
		if memory {
			name = "memory"
		}
		t.Run(name, func(t *testing.T) {
			s, f := openFaultyAs(t, memory)
			ctx := context.Background()
			if err := createUser(s, ctx, "v1"); err != nil {
				t.Fatal(err)
			}
			errs, _ := queueBehind(t, s, func() { f.rollbackFail.Store(1) },
				queued{ctx, audit(ctx, "v-0")},
				queued{ctx, func(w store.Writer) error {
					if err := audit(ctx, "v-1")(w); err != nil {
						return err
					}
					return errors.New("the unit's own failure")
				}},
			)
			if n := f.rollbackFail.Load(); n != 0 {
				t.Fatalf("the ROLLBACK did not fail (%d faults left)", n)
			}
			if n := users(t, s, "v"); n != 1 {
				t.Errorf("%d users v*, want 1 (written before)", n)
			}
			if errs[1] == nil {
				t.Error("the failing unit was told it committed")
			}
			if told(t, s, "v-", errs) != 1 {
				t.Errorf("the innocent unit was told %v", errs[0])
			}
			if err := createUser(s, ctx, "v2"); err != nil {
				t.Errorf("the write after: %v", err)
			}
			if n := f.closed.Load(); n != 0 {
				t.Errorf("%d connections closed, want none", n)
			}
		})
	}
}
