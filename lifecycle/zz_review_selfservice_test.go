package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// reviewRegisterPush registers a device with the activation code of the push
// enrollment en.
func reviewRegisterPush(t *testing.T, st store.Store, now func() time.Time, en lifecycle.Enrolled) {
	t.Helper()
	devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
	pub, _ := builtin.EncodePublicKey(key)
	if _, err := devices.Register(context.Background(), provider.DeviceRegistration{
		ActivationCode: en.Output["activationCode"].(string), PublicKey: pub, Alg: builtin.AlgES256}); err != nil {
		t.Fatal(err)
	}
}

// reviewPushRegisteredRows counts the audit rows saying factor's push device registered.
func reviewPushRegisteredRows(t *testing.T, m *lifecycle.Manager, factor string) int {
	t.Helper()
	n := 0
	for _, ev := range auditOf(t, m, "").Events {
		if ev.Action == "admin."+lifecycle.ActionSelfServiceConfirm && ev.FactorID == factor && ev.Outcome == "SUCCESS" && ev.Reason == "push device registered" {
			n++
		}
	}
	return n
}

// TestReviewPushContinueTwiceOnTwoReplicas: a push set-up's "continue" posted twice (the
// script's and the button's, or a double click) reaches two replicas on one store, both
// having loaded the session before either saved it. The device registered once: the
// trail says so once, whichever session (signed in or a link's) posted it.
func TestReviewPushContinueTwiceOnTwoReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ma, clk := newManager(t, st)
		mb, clkB := newManager(t, st)
		addAlice(t, ma)
		ssa, ssb := selfService(t, ma, "totp", "push"), selfService(t, mb, "totp", "push")

		check := func(what string, sessA lifecycle.Session, en lifecycle.Enrolled) {
			t.Helper()
			reviewRegisterPush(t, st, clk.Now, en)
			sessB, err := ssb.Session(ctx, sessA.Cookie) // loaded before the first saved
			if err != nil {
				t.Fatal(err)
			}
			if state, _, err := ssa.FinishPush(ctx, &sessA); err != nil || state != lifecycle.PushActive {
				t.Fatalf("%s: the first continue: %q %v", what, state, err)
			}
			if state, f, err := ssb.FinishPush(ctx, &sessB); err != nil || state != lifecycle.PushActive || f.ID != en.Factor.ID {
				t.Fatalf("%s: the second continue: %q %+v %v", what, state, f, err)
			}
			if n := reviewPushRegisteredRows(t, ma, en.Factor.ID); n != 1 {
				t.Errorf("%s: %d audit rows say the device registered; want 1", what, n)
			}
		}

		sess, en := enrollVia(t, ssa, linkToken(t, ssa), "push")
		check("link session", sess, en)

		clk.Advance(2 * time.Minute) // another link may be issued
		user, _ := signedIn(t, ssa, clk)
		clkB.Advance(clk.Now().Sub(clkB.Now()))
		en, err := ssa.Enroll(ctx, &user, "push", "")
		if err != nil {
			t.Fatal(err)
		}
		check("signed-in session", user, en)
	})
}
