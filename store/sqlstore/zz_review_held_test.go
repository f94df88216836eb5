package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// errIO stands for what SQLite answers a statement that cannot read or write its pages.
var errIO = errors.New("disk I/O error (SQLITE_IOERR)")

// counterOf is factor id's counter.
func counterOf(t *testing.T, s *sqlstore.Store, id string) int64 {
	t.Helper()
	f, err := s.GetFactor(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return f.Counter
}

// TestReviewHeldCounterErrorFailsUnit: when the compare-and-set the group writer held
// (AdvanceCounter, told nil at once) fails for a reason other than "no row" when it runs
// at the unit's next statement, the unit fails, even when that next statement is one
// whose error fn does not return (an audit row it treats as optional, or a second
// AdvanceCounter, which runs the first held one before holding its own). fn was told its
// counter moved: committing what else it wrote would answer a success whose counter
// never moved.
func TestReviewHeldCounterErrorFailsUnit(t *testing.T) {
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	cases := map[string]func(w store.Writer) error{
		"audit error ignored": func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f0", 1, at); err != nil {
				return err
			}
			_ = w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
				FactorID: "f0", Resource: "validate", Outcome: "SUCCESS"})
			return nil
		},
		"second AdvanceCounter": func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f0", 1, at); err != nil {
				return err
			}
			if err := w.AdvanceCounter(ctx, "f1", 1, at); err != nil {
				return err
			}
			return w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: "alice", Capability: "totp",
				FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"})
		},
	}
	for name, fn := range cases {
		for _, alone := range []bool{true, false} {
			t.Run(fmt.Sprint(name, "/alone=", alone), func(t *testing.T) {
				s, decide := batchDecisions(t, 3)
				fns := []func(w store.Writer) error{fn}
				if !alone {
					fns = append(fns, decide(2, 1))
				}
				errs, _ := sqlstore.ReviewBatchFailing(s, "UPDATE factors SET counter", "f0", errIO, fns...)
				if errs[0] == nil {
					t.Errorf("a unit whose held compare-and-set failed (%v): committed", errIO)
				}
				if !alone && errs[1] != nil {
					t.Errorf("its neighbour: %v", errs[1])
				}
				if c := counterOf(t, s, "f1"); c != -1 {
					t.Errorf("f1's counter %d, want -1: the failed unit's other writes committed", c)
				}
				events, err := s.ListAudit(ctx, store.AuditFilter{})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events {
					if e.FactorID != "f2" {
						t.Errorf("audit row of the failed unit committed: %+v", e)
					}
				}
			})
		}
	}
}
