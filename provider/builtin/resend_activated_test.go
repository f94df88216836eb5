package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestResendWhileTheHeldCodeActivates: a resend of the activation code reads the
// pending factor, sends the new code (seconds, over SMTP), then writes the new code's
// transaction into the factor's params, as it read them. Meanwhile the user types the
// code they already hold, which activates the factor and drops the activation's params.
// The resend wrote them back onto the active factor: it kept "activation": "passcode" and
// the new code's transaction, so that emfa took it for one never activated
// (NeverActivated), and once disabled it could never be enabled again (the admin API's
// 409 not_active). The resend leaves the params of a factor activated meanwhile alone.
func TestResendWhileTheHeldCodeActivates(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newEngineFixture(t, st, nil)
		id := enrollAs(t, f, builtin.ActivationPasscode, "smsotp", "alice", "phone", "+15551230123").Factor.ID
		held := f.sms.last(t).Code
		var activateErr error
		f.sms.mu.Lock()
		f.sms.hook = func() { // the resend's code on its way: the user types the one they hold
			f.sms.hook = nil
			_, activateErr = f.engine.Activate(ctx, alice(t, f), id, held, nil)
		}
		f.sms.mu.Unlock()
		if _, err := f.engine.ResendActivation(ctx, alice(t, f), id, nil); err != nil {
			t.Fatalf("resend: %v", err)
		}
		if activateErr != nil {
			t.Fatalf("activate with the code held during the resend: %v", activateErr)
		}
		got, err := st.GetFactor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.FactorActive || builtin.NeverActivated(&got) || builtin.ActivationTransaction(&got) != "" {
			t.Errorf("factor activated during a resend: state %s, params %v; NeverActivated %v", got.State, got.Params, builtin.NeverActivated(&got))
		}
		for _, k := range []string{"activation", "activationTransaction"} {
			if v, ok := got.Params[k]; ok {
				t.Errorf("the active factor kept param %s=%q", k, v)
			}
		}
	})
}
