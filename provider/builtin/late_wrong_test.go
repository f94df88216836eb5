package builtin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// lateUnit is a store whose next unit runs by later, on the test's clock, once armed:
// the writer busy between a validate's load of its transaction and its unit.
type lateUnit struct {
	store.Store
	clock *clock
	by    time.Duration
}

func (s *lateUnit) Update(ctx context.Context, fn func(store.Writer) error) error {
	if s.by > 0 {
		s.clock.Advance(s.by)
		s.by = 0
	}
	return s.Store.Update(ctx, fn)
}

// A wrong code checked in time whose unit runs after the deadline answers TIMEOUT, as a
// right one does (contract §6, emfa rule: an expired transaction answers TIMEOUT), and is
// not counted against the factor: the challenge had ended. It was answered FAILED and
// counted, and the last attempt ended the transaction FAILED, so every later result said
// FAILED for a challenge nobody answered in time.
func TestWrongAnswerPastDeadlineIsTimeout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		late := &lateUnit{Store: st}
		f := newEngineFixture(t, late, func(c *engineConfig) {
			c.section["smsotp"].(map[string]any)["maxAttempts"] = 1
		})
		late.clock = f.clock
		id := f.enrollSMS(t, "alice", "+15551230123")
		out := f.initiate(t, "alice", "smsotp", id)
		tx, err := st.GetTransaction(ctx, "b:"+out.TransactionID)
		if err != nil {
			t.Fatal(fmt.Errorf("find the challenge: %w", err))
		}
		late.by = tx.ExpiresAt.Sub(f.clock.Now()) + time.Millisecond
		code := f.sms.last(t).Code
		expect(t, "wrong, unit past the deadline", f.validate(t, "alice", "smsotp", id, out.TransactionID, otherCode(code)), provider.StatusTimeout, "")
		expect(t, "result", f.result(t, "alice", "smsotp", id, out.TransactionID), provider.StatusTimeout, "")
		if fa, err := st.GetFactor(ctx, id); err != nil || fa.Failures != 0 {
			t.Errorf("factor after a wrong code past the deadline: failures %d %v, want 0", fa.Failures, err)
		}
	})
}
