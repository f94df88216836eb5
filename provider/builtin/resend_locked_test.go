package builtin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestResendToALockedPendingFactor: wrong activation codes lock a code factor
// pending its passcode, as wrong codes at sign-in do. A resend then (the self-service
// page's "send a new code", the admin API's …/resend) sent an SMS all the same: a code
// Activate refuses while the factor is locked, and that expires (5 minutes) long before
// the lockout ends (15), sent for nothing, its cost and a send under the limits spent.
// It is refused now, as sign-in's initiate refuses a locked factor: nothing is sent, and
// the refusal (ErrNotSent) says when the lockout ends (RetryAfter), which the page shows.
func TestResendToALockedPendingFactor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newEngineFixture(t, st, func(c *engineConfig) { c.set("lockout.maxFailures", 3) })
		id := enrollAs(t, f, builtin.ActivationPasscode, "smsotp", "alice", "phone", "+15551230123").Factor.ID
		code := f.sms.last(t).Code
		for range 3 {
			if _, err := f.engine.Activate(ctx, alice(t, f), id, otherCode(code), nil); !errors.Is(err, builtin.ErrActivation) {
				t.Fatalf("wrong code: %v", err)
			}
		}
		locked, err := st.GetFactor(ctx, id)
		if err != nil || !locked.LockedUntil.After(f.clock.Now()) {
			t.Fatalf("not locked after three wrong codes: %+v %v", locked, err)
		}
		sent := f.sms.count()

		_, err = f.engine.ResendActivation(ctx, alice(t, f), id, nil)
		var ns *builtin.NotSentError
		if !errors.As(err, &ns) || !strings.Contains(ns.Reason, "locked until") || ns.RetryAfter != 15*time.Minute {
			t.Errorf("resend to a locked factor: %v, want ErrNotSent, locked, retry in 15m", err)
		}
		if f.sms.count() != sent {
			t.Errorf("a locked pending factor was sent %d code(s) it cannot use", f.sms.count()-sent)
		}

		// Once the lockout has ended, a resend goes out and its code activates.
		f.clock.Advance(15 * time.Minute)
		if _, err := f.engine.ResendActivation(ctx, alice(t, f), id, nil); err != nil {
			t.Fatalf("resend after the lockout: %v", err)
		}
		if _, err := f.engine.Activate(ctx, alice(t, f), id, f.sms.last(t).Code, nil); err != nil {
			t.Fatalf("activate with the resent code: %v", err)
		}
	})
}
