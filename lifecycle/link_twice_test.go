package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestLinkConfirmTwice: a link's first code posted twice (a double click) answers
// the factor, active, to the second form as to the first, whether its request loaded the
// session before the first ended it or after; the session can do nothing else, and is
// gone soon after.
func TestLinkConfirmTwice(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		sess, en := enrollVia(t, ss, linkToken(t, ss), "totp")
		early, err := ss.Session(ctx, sess.Cookie) // the second click's, loaded before the first's answer
		if err != nil {
			t.Fatal(err)
		}
		code := codeOf(t, en, clk.Now())
		if f, err := ss.ConfirmFor(ctx, &sess, en.Factor.ID, code); err != nil || f.State != lifecycle.FactorActive {
			t.Fatalf("the first click: %+v %v", f, err)
		}
		if f, err := ss.ConfirmFor(ctx, &early, en.Factor.ID, code); err != nil || f.ID != en.Factor.ID {
			t.Errorf("the second click, its session loaded before: %+v %v, want the factor", f, err)
		}
		late, err := ss.Session(ctx, sess.Cookie)
		if err != nil {
			t.Fatalf("the second click, its session loaded after: %v", err)
		}
		if f, err := ss.ConfirmFor(ctx, &late, en.Factor.ID, code); err != nil || f.ID != en.Factor.ID {
			t.Errorf("the second click, its session loaded after: %+v %v, want the factor", f, err)
		}
		if _, err := ss.Enroll(ctx, &late, "totp", ""); !errors.Is(err, lifecycle.ErrLinkSpent) {
			t.Errorf("another enrollment in the ended session: %v, want the link spent", err)
		}
		clk.Advance(2 * time.Minute)
		if _, err := ss.Session(ctx, sess.Cookie); !errors.Is(err, lifecycle.ErrNoSession) {
			t.Errorf("the session after its grace: %v, want it ended", err)
		}
	})
}

// TestLinkPushContinueTwice: a link's push device registered, "continue" posted
// twice (the script's and the button's, or a double click) answers the device, active,
// to the second as to the first, not "your session has ended".
func TestLinkPushContinueTwice(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "push")
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		sess, en := enrollVia(t, ss, linkToken(t, ss), "push")
		if _, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: en.Output["activationCode"].(string),
			PublicKey: pub, Alg: builtin.AlgES256}); err != nil {
			t.Fatal(err)
		}
		if state, f, err := ss.FinishPush(ctx, &sess); err != nil || state != lifecycle.PushActive || f.ID != en.Factor.ID {
			t.Fatalf("the first continue: %q %+v %v", state, f, err)
		}
		again, err := ss.Session(ctx, sess.Cookie)
		if err != nil {
			t.Fatalf("the second continue: %v", err)
		}
		if state, f, err := ss.FinishPush(ctx, &again); err != nil || state != lifecycle.PushActive || f.ID != en.Factor.ID {
			t.Errorf("the second continue: %q %+v %v, want the device, active", state, f, err)
		}
	})
}
