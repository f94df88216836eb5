package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestTxStatementReused: a statement a batch runs again (each unit's audit row, its
// SAVEPOINT and RELEASE, the same compare-and-set of many decisions) is bound to the
// batch's transaction once, not once a run. database/sql's Tx.StmtContext allocates a
// Stmt and its driverStmt each time, grows the transaction's list of them, and registers
// each with the pool under its lock; Commit then closes and unregisters every one.
func TestTxStatementReused(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	st := testdb.Memory(t)
	ctx := context.Background()
	audits := func(n int) func(w store.Writer) error {
		return func(w store.Writer) error {
			for range n {
				if err := w.AppendAudit(ctx, store.AuditEvent{Time: time.UnixMilli(1_700_000_000_000), RequestID: "r",
					Provider: "p", Username: "alice", Resource: "initiate", Outcome: "PENDING"}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// The first runs prepare the statement on the pool (a transaction prepares its miss on
	// itself, then the pool after it).
	for range 3 {
		if err := st.Update(ctx, audits(2)); err != nil {
			t.Fatal(err)
		}
	}
	const many = 17
	one := testing.AllocsPerRun(50, func() { _ = st.Update(ctx, audits(1)) })
	all := testing.AllocsPerRun(50, func() { _ = st.Update(ctx, audits(many)) })
	per := (all - one) / (many - 1)
	t.Logf("Update: %.0f allocs with one audit row, %.0f with %d: %.1f a row more", one, all, many, per)
	// An audit row's own: its arguments boxed, their slice, database/sql's driver
	// arguments and result, the driver's bindings (no parameter names since SQLite's
	// statements take ? parameters: AnonymousParams). Binding the statement to the
	// transaction again added three more: 31.4 a row before, 28.1 after, 17 with ?.
	if per > 29 {
		t.Errorf("each further run of the same statement in a transaction costs %.1f allocations, want at most 29", per)
	}
}
