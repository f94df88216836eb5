package builtin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestNoActivationForADisabledUser: no factor of a disabled user is activated,
// yet Activate checked the code all the same: the right SMS code was refused and spent
// (its transaction FAILED, "the factor or its user was disabled meanwhile"), so that once
// the user was enabled again it answered "transaction already FAILED" and a new code had
// to be sent, and wrong codes counted toward the factor's lockout while nothing could have
// activated it. It is refused before any write now, saying the user is disabled: the
// code stays good, and nothing is counted.
func TestNoActivationForADisabledUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newEngineFixture(t, st, nil)
		sms := enrollAs(t, f, builtin.ActivationPasscode, "smsotp", "alice", "phone", "+15550001111").Factor.ID
		code := f.sms.last(t).Code
		totp := enrollAs(t, f, builtin.ActivationPasscode, "totp", "alice").Factor.ID
		if err := st.SetUserDisabled(ctx, "alice", true); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ id, code string }{{sms, code}, {sms, otherCode(code)}, {totp, "000000"}} {
			_, err := f.engine.Activate(ctx, alice(t, f), c.id, c.code, nil)
			if !errors.Is(err, builtin.ErrActivation) || !strings.Contains(err.Error(), "disabled") {
				t.Errorf("activation of a disabled user's factor: %v, want ErrActivation saying the user is disabled", err)
			}
			if got, _ := st.GetFactor(ctx, c.id); got.Failures != 0 || got.State != store.FactorPending {
				t.Errorf("factor %s of a disabled user: %d failures counted, %s", c.id, got.Failures, got.State)
			}
		}
		if err := st.SetUserDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		if got, err := f.engine.Activate(ctx, alice(t, f), sms, code, nil); err != nil || got.State != store.FactorActive {
			t.Fatalf("the code sent, once the user is enabled: %+v %v, want the factor active", got, err)
		}
	})
}
