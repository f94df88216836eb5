package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
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

type countingSender struct{ n *atomic.Int32 }

func (countingSender) Kind() string                 { return "counting" }
func (countingSender) Serves(delivery.Channel) bool { return true }
func (c countingSender) Send(context.Context, delivery.Message) error {
	c.n.Add(1)
	return nil
}

// TestSwitchCoversSelfServiceSignIn: a capability switched off org-wide (an SMS fraud
// wave) is off on the self-service sign-in too, whose form anyone can fill in with any
// user name: nothing is sent, as on Verify's path; switched on again, the code goes.
func TestSwitchCoversSelfServiceSignIn(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var sent atomic.Int32
		now := func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) }
		keys, _ := builtin.NewKeyring(bytes.Repeat([]byte{3}, 32))
		e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: now,
			Capabilities: []string{"totp", "smsotp"},
			Config: map[string]any{"smsotp": map[string]any{"sender": "counting"},
				"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
			Senders: func(string) (delivery.Sender, error) { return countingSender{&sent}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		switches := &provider.SwitchCache{Store: st, Now: now}
		p := &provider.Provider{Name: "emfa", CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"totp", "smsotp"},
			Engine: e, Switches: switches}
		m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{e}, Now: now,
			Capabilities: map[string][]string{"emfa": {"totp", "smsotp"}}, Switched: switches.Invalidate})
		if err != nil {
			t.Fatal(err)
		}
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationImmediate,
			Params: raw(`{"phone":"+15550000001"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetSwitch(ctx, "test", "emfa", "smsotp", true, "SMS fraud wave"); err != nil {
			t.Fatal(err)
		}
		// Verify's path: refused, nothing sent.
		out, err := p.Initiate(ctx, provider.Request{Capability: "smsotp", ID: en.Factor.ID, Username: "alice"})
		if err != nil || out.Status != provider.StatusFailed || sent.Load() != 0 {
			t.Fatalf("contract initiate while switched off: %+v %v, %d sent", out, err, sent.Load())
		}
		// The self-service sign-in form: anyone, any user name.
		ss := selfService(t, m, "totp", "smsotp")
		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", "smsotp"); err != nil {
			t.Fatal(err)
		}
		if n := sent.Load(); n != 0 {
			t.Errorf("smsotp is switched off org-wide, yet the self-service sign-in sent %d SMS (session tx %q)", n, anon.State.Tx)
		}
		if _, err := m.SetSwitch(ctx, "test", "emfa", "smsotp", false, ""); err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", "smsotp"); err != nil || sent.Load() != 1 {
			t.Errorf("switched on again: %v, %d sent", err, sent.Load())
		}
	})
}

// A switch never changed has no time of its last change, not year 1.
func TestSwitchNeverChangedHasNoTime(t *testing.T) {
	b, err := json.Marshal(lifecycle.Switch{Provider: "emfa", Capability: "totp", State: "enabled"})
	if err != nil || strings.Contains(string(b), "updated") {
		t.Errorf("%s %v", b, err)
	}
}
