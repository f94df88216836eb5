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

// TestPushStatusEndsWithItsActivationCode: a push device enrolled on the page
// registers with its activation code, which lasts push.activationLifetime (10 minutes by
// default), not lifecycle.activationLifetime (7 days). Past the code's end the device can
// no longer register (Register refuses the code as expired), so the page, which polls
// PushStatus, must stop waiting and say so, rather than wait on for the session's life.
func TestPushStatusEndsWithItsActivationCode(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "push")
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		sess, en := enrollVia(t, ss, linkToken(t, ss), "push")
		if state, err := ss.PushStatus(ctx, sess); state != lifecycle.PushPending || err != nil {
			t.Fatalf("at once: %q %v, want pending", state, err)
		}
		clk.Advance(11 * time.Minute) // past the code's default 10 minutes
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		_, rerr := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: en.Output["activationCode"].(string),
			PublicKey: pub, Alg: builtin.AlgES256})
		if !errors.Is(rerr, provider.ErrActivation) {
			t.Fatalf("registration past the code's end: %v, want refused", rerr)
		}
		if state, err := ss.PushStatus(ctx, sess); state != lifecycle.PushEnded || err != nil {
			t.Errorf("past the activation code's end (registration refused: %v): status %q %v, want %q", rerr, state, err, lifecycle.PushEnded)
		}
	})
}

// TestExpiredLinkSaysSoAfterTheSweep: the sweeper runs every minute; an activation
// link clicked after its end (people open last week's e-mail) must still say it expired,
// ask for a new one (README: helpText), as a spent link still says it was used, not
// "not valid: mistyped, replaced or used" as if it had never been issued.
func TestExpiredLinkSaysSoAfterTheSweep(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp") // links last an hour
		sweeper := &builtin.Sweeper{Store: st, Now: clk.Now}
		token := linkToken(t, ss)
		clk.Advance(time.Hour + 2*time.Minute)
		if _, err := sweeper.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.OpenLink(ctx, token); !errors.Is(err, lifecycle.ErrLinkExpired) {
			t.Errorf("a link opened after its end and a sweep: %v, want %v", err, lifecycle.ErrLinkExpired)
		}
		// Kept no longer than a spent link.
		clk.Advance(25 * time.Hour)
		if _, err := sweeper.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.OpenLink(ctx, token); !errors.Is(err, lifecycle.ErrLinkInvalid) {
			t.Errorf("a link a day past its end: %v, want it gone (%v)", err, lifecycle.ErrLinkInvalid)
		}
	})
}
