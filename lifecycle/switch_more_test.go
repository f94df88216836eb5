package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// TestSwitchCoversSelfServiceEnrollment: a capability switched off org-wide (an SMS
// fraud wave) sends nothing from the self-service page: neither a first code to a number
// the holder of a link types, nor a code sent again for a set-up begun before the
// switch. The page refuses the type, saying it is off for now; switched on again, the
// code goes.
func TestSwitchCoversSelfServiceEnrollment(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var sent atomic.Int32
		m, _ := newManagerSending(t, st, countingSender{&sent})
		addAlice(t, m)
		ss := selfService(t, m, "totp", "smsotp")
		sess, err := ss.OpenLink(ctx, linkToken(t, ss))
		if err != nil {
			t.Fatal(err)
		}
		// A set-up begun before the switch: its code went.
		if _, err := ss.Enroll(ctx, &sess, "smsotp", "+15550000001"); err != nil || sent.Load() != 1 {
			t.Fatalf("enroll before the switch: %v, %d sent", err, sent.Load())
		}
		if _, err := m.SetSwitch(ctx, "test", "emfa", "smsotp", true, "SMS fraud wave"); err != nil {
			t.Fatal(err)
		}
		var le *lifecycle.Error
		if err := ss.Resend(ctx, &sess); !errors.As(err, &le) || le.Kind != lifecycle.Refused {
			t.Errorf("resend while smsotp is switched off: %v, want a refusal", err)
		}
		if _, err := ss.Enroll(ctx, &sess, "smsotp", "+15550000002"); !errors.As(err, &le) || le.Kind != lifecycle.Refused {
			t.Errorf("enroll while smsotp is switched off: %v, want a refusal", err)
		}
		if n := sent.Load(); n != 1 {
			t.Errorf("smsotp is switched off org-wide, yet the self-service page sent %d more SMS", n-1)
		}
		for _, action := range []string{lifecycle.ActionSelfServiceResend, lifecycle.ActionSelfServiceEnroll} {
			if page := auditOf(t, m, lifecycle.AdminResource(action)); len(page.Events) == 0 || page.Events[0].Outcome != "FAILED" ||
				!strings.Contains(page.Events[0].Reason, "smsotp switched off") {
				t.Errorf("%s refused, recorded as %+v", action, page.Events)
			}
		}
		// Another type is not off.
		if _, err := ss.Enroll(ctx, &sess, "totp", ""); err != nil {
			t.Errorf("enroll totp while only smsotp is off: %v", err)
		}
		if _, err := m.SetSwitch(ctx, "test", "emfa", "smsotp", false, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Enroll(ctx, &sess, "smsotp", "+15550000002"); err != nil || sent.Load() != 2 {
			t.Errorf("switched on again: %v, %d sent", err, sent.Load())
		}
	})
}

// TestOtherProvidersSwitchLeavesThePageAlone: the page signs in and enrolls with the
// builtin provider's factors only. A vendor's provider that names a capability alike (a
// DUO provider's smsotp, README's example) switched off for its vendor's outage leaves
// the builtin smsotp on the page as it leaves it on Verify's calls; the builtin
// provider's own switch still holds there.
func TestOtherProvidersSwitchLeavesThePageAlone(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var sent atomic.Int32
		now := func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) }
		keys, _ := builtin.NewKeyring(bytes.Repeat([]byte{3}, 32))
		e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: now, Provider: "emfa",
			Capabilities: []string{"totp", "smsotp"},
			Config: map[string]any{"smsotp": map[string]any{"sender": "counting"},
				"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
			Senders: func(string) (delivery.Sender, error) { return countingSender{&sent}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{e}, Now: now,
			Capabilities: map[string][]string{"emfa": {"totp", "smsotp"}, "duo": {"smsotp", "push"}}})
		if err != nil {
			t.Fatal(err)
		}
		addAlice(t, m)
		if _, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationImmediate,
			Params: raw(`{"phone":"+15550000001"}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetSwitch(ctx, "test", "duo", "smsotp", true, "DUO outage"); err != nil {
			t.Fatal(err)
		}
		ss := selfService(t, m, "totp", "smsotp")
		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", "smsotp"); err != nil || sent.Load() != 1 {
			t.Errorf("duo's smsotp switched off: the page's sign-in with emfa's smsotp sent %d (want 1), %v", sent.Load(), err)
		}
		if _, err := m.SetSwitch(ctx, "test", "emfa", "smsotp", true, "SMS fraud wave"); err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", "smsotp"); err != nil || sent.Load() != 1 {
			t.Errorf("emfa's smsotp switched off: the page's sign-in sent %d (want still 1), %v", sent.Load(), err)
		}
	})
}

// TestPagePushDeniedWhileOffStaysDenied: a push sign-in on the page polled while
// push is switched off org-wide (a push-fatigue attack stopped) is denied, and ends
// there, as Verify's poll ends its challenge FAILED: switched on again, the device's
// approval of that challenge must not turn the page's "denied" into a sign-in for
// whoever holds the session (the page that ran the attack).
func TestPagePushDeniedWhileOffStaysDenied(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
		keys, _ := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
		engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clk.Now, Capabilities: []string{"totp", "push"},
			Provider: "acme", Config: map[string]any{"push": map[string]any{"lifetime": "2m", "serverURL": "https://mfa.example.com/"}}})
		if err != nil {
			t.Fatal(err)
		}
		switches := &provider.SwitchCache{Store: st, Now: clk.Now}
		p := &provider.Provider{CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"totp", "push"}, Engine: engine,
			Now: clk.Now, Switches: switches}
		m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}, Now: clk.Now,
			Capabilities: map[string][]string{"acme": {"totp", "push"}}, Switched: switches.Invalidate})
		if err != nil {
			t.Fatal(err)
		}
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "push"})
		if err != nil {
			t.Fatal(err)
		}
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now,
			Refusal: func(ctx context.Context, _, user, capability string) (string, error) {
				return p.Refusal(ctx, user, capability)
			}})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		device, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: en.Output["activationCode"].(string), PublicKey: pub, Alg: builtin.AlgES256})
		if err != nil {
			t.Fatal(err)
		}
		ss := selfService(t, m, "totp", "push")
		sess, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &sess, "alice", lifecycle.MethodPush); err != nil || sess.State.Tx == "" {
			t.Fatalf("start: %v, tx %q", err, sess.State.Tx)
		}
		pending, err := devices.Pending(ctx, device)
		if err != nil || len(pending) != 1 {
			t.Fatalf("the device's challenges: %v %v", pending, err)
		}
		if _, err := m.SetSwitch(ctx, "test", "acme", "push", true, "push fatigue"); err != nil {
			t.Fatal(err)
		}
		if got, err := ss.PushSignInStatus(ctx, sess); err != nil || got != lifecycle.SignInDenied {
			t.Fatalf("status while push is off: %s %v, want denied", got, err)
		}
		if _, err := m.SetSwitch(ctx, "test", "acme", "push", false, ""); err != nil {
			t.Fatal(err)
		}
		status, err := devices.Answer(ctx, device, pending[0].ID, provider.Approve, nil)
		if err == nil && status == provider.StatusSuccess {
			t.Errorf("the device approved, after the switch, a challenge the page answered denied while it was off")
		}
		if got, err := ss.PushSignInStatus(ctx, sess); err != nil || got != lifecycle.SignInDenied {
			t.Errorf("status once push is on again and the device approved: %s %v, want denied still", got, err)
		}
	})
}
