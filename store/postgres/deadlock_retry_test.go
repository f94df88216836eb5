package postgres

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/store/sqlstore"
)

// TestUnitDeadlockRunsAgain: a unit PostgreSQL aborts as a deadlock's victim (40P01:
// it held a row another transaction waited for, and waited for one that transaction
// held) committed nothing, and runs again: it was answered as a fault, and a caller such
// as the admin API's activation of a factor racing its user's deletion told 500 of a
// change that would have gone through a moment later (lifecycle's TestTransitionRaces,
// once in four .ci/run's). Here the unit is made the victim: the other transaction's
// session waits 30 s before it looks for a deadlock, the unit's 50 ms.
func TestUnitDeadlockRunsAgain(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS deadlock_retry_t (id int PRIMARY KEY, n int);
		INSERT INTO deadlock_retry_t VALUES (1, 0), (2, 0) ON CONFLICT (id) DO UPDATE SET n = 0`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec(`DROP TABLE IF EXISTS deadlock_retry_t`) })

	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `SET deadlock_timeout = '30s'`); err != nil {
		t.Fatal(err)
	}
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deadlock_retry_t SET n = n + 10 WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	otherDone := make(chan error, 1)
	var runs atomic.Int32
	err = dialect{}.RunUnit(ctx, db, func(e sqlstore.Execer) error {
		first := runs.Add(1) == 1
		if _, err := e.Exec(ctx, `SET LOCAL deadlock_timeout = '50ms'`); err != nil {
			return err
		}
		if _, err := e.Exec(ctx, `UPDATE deadlock_retry_t SET n = n + 1 WHERE id = 1`); err != nil {
			return err
		}
		if first {
			// The other transaction now waits for row 1, which this one holds, holding
			// row 2, which this one is about to wait for.
			go func() {
				_, err := tx.ExecContext(ctx, `UPDATE deadlock_retry_t SET n = n + 10 WHERE id = 1`)
				if err == nil {
					err = tx.Commit()
				}
				otherDone <- err
			}()
			var waiting bool
			for !waiting {
				if err := db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'
					AND query LIKE 'UPDATE deadlock_retry_t SET n = n + 10 WHERE id = 1%'`).Scan(&waiting); err != nil {
					return err
				}
			}
		}
		_, err := e.Exec(ctx, `UPDATE deadlock_retry_t SET n = n + 1 WHERE id = 2`)
		return err
	})
	if err != nil {
		t.Fatalf("the unit, a deadlock's victim, answered %v; want it run again", err)
	}
	if err := <-otherDone; err != nil {
		t.Fatalf("the other transaction: %v", err)
	}
	var n1, n2 int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT n FROM deadlock_retry_t WHERE id = 1), (SELECT n FROM deadlock_retry_t WHERE id = 2)`).Scan(&n1, &n2); err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 2 || n1 != 11 || n2 != 11 {
		t.Errorf("runs %d, rows %d and %d; want the unit run twice and each row changed once by each (11, 11)", runs.Load(), n1, n2)
	}
}
