package builtin_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestLastAttemptRefusedByALockout: the right code, sent with the last attempt
// a challenge allows, is refused because wrong codes sent alongside locked the factor
// since its request read it. No attempt is left, so the challenge is over: FAILED, as the
// last wrong code ends it. It stayed PENDING: result answered "waiting for validate" for
// a challenge nothing could complete, a new initiate then reported it as an earlier code
// canceled, and once its lifetime passed validate answered TIMEOUT instead of FAILED.
func TestLastAttemptRefusedByALockout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		as := &afterRead{Store: st}
		f := newEngineFixture(t, as, func(c *engineConfig) {
			c.set("lockout.maxFailures", 2)
			c.set("lockout.duration", "1s")
			c.set("smsotp.maxAttempts", 2)
		})
		id := f.enrollSMS(t, "alice", "+15551230123")
		tx := f.initiate(t, "alice", "smsotp", id).TransactionID
		code := f.sms.last(t).Code
		expect(t, "first attempt", f.validate(t, "alice", "smsotp", id, tx, otherCode(code)), provider.StatusFailed, "attempt 1 of 2")
		as.hook = func() { // wrong codes of a burst, on other challenges, decided meanwhile
			for range 2 {
				if _, err := st.RecordFailure(ctx, id, f.clock.Now(), 2, time.Second); err != nil {
					t.Error(err)
				}
			}
		}
		expect(t, "right code, last attempt", f.validate(t, "alice", "smsotp", id, tx, code), provider.StatusFailed, "locked meanwhile")
		f.clock.Advance(2 * time.Second) // the lockout over
		expect(t, "result", f.result(t, "alice", "smsotp", id, tx), provider.StatusFailed, "already FAILED")
		expect(t, "again", f.validate(t, "alice", "smsotp", id, tx, code), provider.StatusFailed, "already FAILED")
		f.clock.Advance(5 * time.Minute) // its lifetime over
		expect(t, "after its lifetime", f.validate(t, "alice", "smsotp", id, tx, code), provider.StatusFailed, "already FAILED")
	})
}
