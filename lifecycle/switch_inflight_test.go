package lifecycle_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// TestSwitchInFlight: what Verify gets for a challenge in flight when its
// capability is switched off org-wide (README, "The org-wide switch"): the validate with
// the right code is FAILED, with the switch's reason in the audit trail, on the replica
// that threw it at once; the code is not spent, and once switched on again, while it
// lives, it signs in.
func TestSwitchInFlight(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		sent := &keptSender{}
		now := func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) }
		keys, _ := builtin.NewKeyring(bytes.Repeat([]byte{3}, 32))
		e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: now,
			Capabilities: []string{"smsotp"},
			Config: map[string]any{"smsotp": map[string]any{"sender": "kept"},
				"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
			Senders: func(string) (delivery.Sender, error) { return sent, nil }})
		if err != nil {
			t.Fatal(err)
		}
		switches := &provider.SwitchCache{Store: st, Now: now}
		p := &provider.Provider{Name: "emfa", CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"smsotp"},
			Engine: e, Switches: switches, Now: now}
		m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{e}, Now: now,
			Capabilities: map[string][]string{"emfa": {"smsotp"}}, Switched: switches.Invalidate})
		if err != nil {
			t.Fatal(err)
		}
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationImmediate,
			Params: raw(`{"phone":"+15550000001"}`)})
		if err != nil {
			t.Fatal(err)
		}
		init, err := p.Initiate(ctx, provider.Request{Capability: "smsotp", ID: en.Factor.ID, Username: "alice"})
		if err != nil || init.Status != provider.StatusPending {
			t.Fatalf("initiate: %+v %v", init, err)
		}
		code := sent.code(t)
		if _, err := m.SetSwitch(ctx, "test", "emfa", "smsotp", true, "SMS fraud wave"); err != nil {
			t.Fatal(err)
		}
		req := provider.Request{Capability: "smsotp", ID: en.Factor.ID, TransactionID: init.TransactionID, Username: "alice", Passvalue: code}
		out, err := p.Validate(ctx, req)
		if err != nil || out.Status != provider.StatusFailed || !strings.Contains(out.Reason, "SMS fraud wave") {
			t.Errorf("validate in flight after the switch: %+v %v, want FAILED with the reason", out, err)
		}
		if _, err := m.SetSwitch(ctx, "test", "emfa", "smsotp", false, ""); err != nil {
			t.Fatal(err)
		}
		if out, err := p.Validate(ctx, req); err != nil || out.Status != provider.StatusSuccess {
			t.Errorf("validate once switched on again: %+v %v, want SUCCESS (the code was not spent)", out, err)
		}
	})
}
