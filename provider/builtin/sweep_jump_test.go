package builtin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestSweepAcrossAClockJump: the sweeper and the engine on one fake clock that
// jumps most of an hour ahead. A code expired an hour (the grace) ago is removed; one expired
// within the grace stays, answered TIMEOUT; one started after the jump, live, stays and
// validates; the send records the hourly limit still looks at stay, so it still holds.
func TestSweepAcrossAClockJump(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newEngineFixture(t, st, func(c *engineConfig) {
			c.set("sendLimits.perUser", []any{map[string]any{"window": "1h", "max": 3}})
			c.set("sendLimits.perDestination", []any{map[string]any{"window": "1h", "max": 3}})
		})
		s := &builtin.Sweeper{Store: st, Now: f.clock.Now, SendRetention: f.engine.SendRetention()}
		phone := f.enrollSMS(t, "alice", "+15551230123")
		mail := f.enrollEmail(t, "alice", "alice@example.com")

		old := f.initiate(t, "alice", "emailotp", mail).TransactionID // expires at 1m30s
		f.clock.Advance(40 * time.Minute)
		recent := f.initiate(t, "alice", "smsotp", phone).TransactionID // expires at 45m
		if got, err := s.Sweep(ctx); err != nil || got.Transactions != 0 || got.Sends != 0 {
			t.Fatalf("sweep before the jump: %+v %v", got, err)
		}

		f.clock.Advance(55 * time.Minute) // the jump: now 1h35m
		live := f.initiate(t, "alice", "smsotp", phone)
		code := f.sms.last(t).Code
		got, err := s.Sweep(ctx)
		if err != nil || got.Transactions != 1 || got.Sends != 2 {
			t.Fatalf("sweep after the jump: %+v %v, want the oldest code and its send (under the user and the mailbox)", got, err)
		}
		if _, err := st.GetTransaction(ctx, "b:"+old); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the code expired over the grace ago: %v, want it removed", err)
		}
		expect(t, "the code expired within the grace", f.result(t, "alice", "smsotp", phone, recent), provider.StatusTimeout, "")
		expect(t, "the live code", f.validate(t, "alice", "smsotp", phone, live.TransactionID, code), provider.StatusSuccess, "")

		// The sends of the last hour (at 40m and 1h35m) were kept: a third goes, a fourth
		// is refused.
		expect(t, "third send in the hour", f.initiate(t, "alice", "smsotp", phone), provider.StatusPending, "")
		f.clock.Advance(time.Second)
		expect(t, "fourth send in the hour", f.initiate(t, "alice", "smsotp", phone), provider.StatusFailed, "send limit reached")
	})
}
