package builtin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// unitHook is a store that, once armed, runs hook before its nth next unit (Update),
// outside any unit: another caller's writes landing between two of one caller's commits.
type unitHook struct {
	store.Store
	n    int
	hook func()
}

func (s *unitHook) Update(ctx context.Context, fn func(store.Writer) error) error {
	if s.hook != nil {
		if s.n--; s.n == 0 {
			h := s.hook
			s.hook = nil
			h()
		}
	}
	return s.Store.Update(ctx, fn)
}

// TestConcurrentResendActivation: of two resends of one pending SMS factor's
// activation code, the newer code is the live one (it cancelled the older), and it must
// be the one the factor's params name. Before, a resend held between its code's commits
// and its params' commit wrote its own, cancelled, transaction over the newer one's: the
// user's newest code was refused ("canceled") and the factor could not be activated
// until yet another resend.
func TestConcurrentResendActivation(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hs := &unitHook{Store: st}
		f := newEngineFixture(t, hs, nil)
		id := enrollAs(t, f, builtin.ActivationPasscode, "smsotp", "alice", "phone", "+15550001111").Factor.ID
		u := alice(t, f)
		ran := false
		// Resend A: its code's two units (the transaction, then the cancellation of older
		// ones once sent), then, held before its third (the params), resend B whole.
		hs.n, hs.hook = 3, func() {
			ran = true
			f.clock.Advance(time.Second)
			if _, err := f.engine.ResendActivation(ctx, u, id, nil); err != nil {
				t.Fatalf("resend B: %v", err)
			}
		}
		if _, err := f.engine.ResendActivation(ctx, u, id, nil); err != nil {
			t.Fatalf("resend A: %v", err)
		}
		if !ran {
			t.Fatal("resend B never ran")
		}
		newest := f.sms.last(t).Code // B's code: A's was sent before it
		if _, err := f.engine.Activate(ctx, u, id, newest, nil); err != nil {
			t.Fatalf("activate with the newest code: %v", err)
		}
	})
}

// TestTOTPDriftHintTenStepsOutside: the drift hint covers codes up to ten steps
// outside the window, as the README (totp.window) and driftSteps say. It searched ten
// steps from the current one instead: with window 1 a code 10 steps outside (5m30s off)
// got no hint, and with window 10, the largest allowed, no code ever did.
func TestTOTPDriftHintTenStepsOutside(t *testing.T) {
	f := newFixture(t, testdb.SQLite(t)) // window 1, period 30
	for _, c := range []struct {
		offset int64
		reason string
	}{
		{11, "wrong code; it is the code of 5m30s later: the device's clock may be 5m30s fast"},
		{-11, "wrong code; it is the code of 5m30s earlier: the device's clock may be 5m30s slow"},
		{12, "wrong code"},
	} {
		out := f.validate(t, "alice", f.factor, f.code(c.offset))
		reason, _, _ := strings.Cut(out.Reason, "; 3 failures") // the third locks the factor
		if out.Status != provider.StatusFailed || reason != c.reason {
			t.Errorf("code of step %+d: %s %q, want FAILED %q", c.offset, out.Status, out.Reason, c.reason)
		}
	}
}
