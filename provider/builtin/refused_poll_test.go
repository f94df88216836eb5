package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestRefusedPollStaysFailed: a result the Provider refuses (the capability switched off
// org-wide) on a push challenge still pending answers FAILED. That answer is terminal
// for Verify (contract §7: "once terminal, every later poll returns the same terminal
// status"), as the engine's own refusals are (refusePending): the device must not turn
// the challenge into a SUCCESS that a later poll answers once the switch is back on.
func TestRefusedPollStaysFailed(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newPushFixture(t, st, false)
		d := f.register(t, "alice", "Ed25519")
		p := &provider.Provider{CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"push"},
			Engine: f.engine, Now: f.clock.Now, Audit: st, Switches: &provider.SwitchCache{Store: st, Now: f.clock.Now}}
		started, err := p.Initiate(ctx, provider.Request{Capability: "push", ID: d.id, Username: "alice"})
		if err != nil || started.Status != provider.StatusPending {
			t.Fatalf("initiate: %+v %v", started, err)
		}
		req := provider.Request{Capability: "push", ID: d.id, Username: "alice", TransactionID: started.TransactionID}
		turn := func(off bool) {
			sw := store.CapabilitySwitch{Provider: "acme", Capability: "push", Disabled: off, Reason: "push fatigue attack", UpdatedAt: f.clock.Now()}
			if err := st.SetCapabilitySwitch(ctx, sw, store.AuditEvent{Time: f.clock.Now(), Resource: "switch"}); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(provider.DefaultSwitchTTL)
		}
		turn(true)
		first, err := p.Result(ctx, req)
		if err != nil || first.Status != provider.StatusFailed {
			t.Fatalf("result with push switched off: %+v %v", first, err)
		}
		// The phone still shows the challenge; the user (or a fatigued one) approves it.
		status, err := f.answer(d, started.TransactionID, provider.Approve, nil)
		turn(false)
		later, lerr := p.Result(ctx, req)
		if lerr != nil || later.Status != first.Status {
			t.Errorf("a poll answered %s, then %s (%q) after the switch came back on; the device's answer was %s %v",
				first.Status, later.Status, later.Reason, status, err)
		}
	})
}
