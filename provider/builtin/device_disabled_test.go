package builtin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// A device of a user disabled while it waited for its registration does not register:
// whoever holds the code of someone who left (or was suspended) cannot bind a phone that
// signs in for them the day the account is re-enabled. The code is not spent, so a user
// enabled again within its lifetime registers with it.
func TestNoDeviceRegistersForADisabledUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		e := f.enroll(t, "alice")
		reg := func() (string, error) {
			return f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub, Alg: builtin.AlgES256})
		}
		if err := st.SetUserDisabled(ctx, "alice", true); err != nil {
			t.Fatal(err)
		}
		if id, err := reg(); !errors.Is(err, provider.ErrActivation) {
			t.Fatalf("registered for a disabled user: %q %v", id, err)
		}
		if got, _ := st.GetFactor(ctx, e.Factor.ID); got.State != store.FactorPending {
			t.Errorf("factor after the refusal: %s", got.State)
		}
		if err := st.SetUserDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		if id, err := reg(); err != nil || id != e.Factor.ID {
			t.Fatalf("register once enabled again: %q %v", id, err)
		}
	})
}
