package builtin_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestRightChallengeCodeAfterAConcurrentLockout: as TestRightCodeAfterAConcurrentLockout
// for TOTP, but for a code sent by SMS. Wrong codes sent alongside the right one lock the
// factor after the right one's request read it unlocked; the right code must not pass
// (README, Security model: "of a burst of guesses sent at once, a right one decided after
// the wrong ones locked the factor is FAILED like them"), nor complete the transaction.
func TestRightChallengeCodeAfterAConcurrentLockout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		as := &afterRead{Store: st}
		f := newEngineFixture(t, as, func(c *engineConfig) {
			c.set("lockout.maxFailures", 2)
			c.set("smsotp.maxAttempts", 5)
		})
		id := f.enrollSMS(t, "alice", "+15551230123")
		tx := f.initiate(t, "alice", "smsotp", id).TransactionID
		code := f.sms.last(t).Code
		as.hook = func() { // two wrong codes of the burst, decided meanwhile
			for range 2 {
				if _, err := st.RecordFailure(ctx, id, f.clock.Now(), 2, 15*time.Minute); err != nil {
					t.Error(err)
				}
			}
		}
		out := f.validate(t, "alice", "smsotp", id, tx, code)
		if out.Status != provider.StatusFailed {
			t.Errorf("a right code decided after concurrent failures locked the factor: %+v", out)
		}
		if got := f.result(t, "alice", "smsotp", id, tx); got.Status == provider.StatusSuccess {
			t.Errorf("the transaction completed SUCCESS on a locked factor: %+v", got)
		}
		if fac, _ := st.GetFactor(ctx, id); fac.LockedUntil.IsZero() {
			t.Error("the right code cleared the lockout the burst set")
		}
	})
}
