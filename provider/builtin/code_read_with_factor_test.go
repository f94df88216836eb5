package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A code's validate reads its transaction with the factor (Engine.validate); it answers
// as the separate read did: a transaction of another of the user's factors is refused and
// consumes nothing, and one completed after that read (another replica's right code) is
// answered as completed, not decided again.
func TestCodeTransactionReadWithTheFactor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		as := &afterRead{Store: st}
		f := newEngineFixture(t, as, nil)
		first := f.enrollSMS(t, "alice", "+15551230123")
		second := f.enrollSMS(t, "alice", "+15551230124")
		tx := f.initiate(t, "alice", "smsotp", first).TransactionID
		code := f.sms.last(t).Code
		expect(t, "another factor's transaction", f.validate(t, "alice", "smsotp", second, tx, code), provider.StatusFailed, "another factor")

		as.hook = func() { // the right code, decided on another replica after this read
			if err := st.CompleteTransaction(ctx, "b:"+tx, "SUCCESS", f.clock.Now()); err != nil {
				t.Error(err)
			}
		}
		expect(t, "completed meanwhile", f.validate(t, "alice", "smsotp", first, tx, code), provider.StatusFailed, "already SUCCESS")
		if got, err := st.GetTransaction(ctx, "b:"+tx); err != nil || got.Attempts != 0 {
			t.Errorf("transaction %+v, %v; want no attempt counted", got, err)
		}
	})
}
