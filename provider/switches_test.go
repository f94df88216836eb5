package provider_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// countingEngine answers every step SUCCESS and lists one factor per capability, counting
// the calls that reach it.
type countingEngine struct {
	mu    sync.Mutex
	calls int
}

func (e *countingEngine) Enrollments(context.Context, string) ([]provider.Enrollment, error) {
	return []provider.Enrollment{{Capability: "smsotp", ID: "s1"}, {Capability: "totp", ID: "t1"}}, nil
}
func (e *countingEngine) step(context.Context, provider.Request) (provider.Outcome, error) {
	e.mu.Lock()
	e.calls++
	e.mu.Unlock()
	return provider.Outcome{Status: provider.StatusSuccess}, nil
}
func (e *countingEngine) Initiate(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	return e.step(ctx, r)
}
func (e *countingEngine) Validate(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	return e.step(ctx, r)
}
func (e *countingEngine) Result(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	return e.step(ctx, r)
}
func (e *countingEngine) Test(context.Context) (provider.Outcome, error) {
	return provider.Outcome{Status: provider.StatusSuccess}, nil
}

// TestSwitches: a capability switched off in the store is hidden from enrollments and
// FAILED, without reaching the engine, on every replica once its cache has aged, and back
// on when switched on again.
func TestSwitches(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		replica := func() (*provider.Provider, *countingEngine) {
			e := &countingEngine{}
			return &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"smsotp", "totp"},
				Engine: e, Now: clock, Switches: &provider.SwitchCache{Store: st, Now: clock}}, e
		}
		a, engineA := replica()
		b, _ := replica()
		caps := func(p *provider.Provider) string {
			list, err := p.Enrollments(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			var cs []string
			for _, e := range list {
				cs = append(cs, e.Capability)
			}
			return strings.Join(cs, ",")
		}
		if got := caps(b); got != "smsotp,totp" { // b caches "all on"
			t.Fatalf("before: %s", got)
		}
		sw := store.CapabilitySwitch{Provider: "emfa", Capability: "smsotp", Disabled: true, Reason: "fraud wave", UpdatedAt: clock()}
		if err := st.SetCapabilitySwitch(ctx, sw, store.AuditEvent{Time: clock(), Resource: "switch"}); err != nil {
			t.Fatal(err)
		}
		if got := caps(a); got != "totp" {
			t.Errorf("replica a, first read: %s", got)
		}
		out, err := a.Initiate(ctx, provider.Request{Capability: "emfa:smsotp", ID: "s1", Username: "alice"})
		if err != nil || out.Status != provider.StatusFailed || !strings.Contains(out.Reason, "fraud wave") || engineA.calls != 0 {
			t.Errorf("initiate while off: %+v, %v, %d engine calls", out, err, engineA.calls)
		}
		if got := caps(b); got != "smsotp,totp" {
			t.Errorf("replica b within its TTL: %s (a fresh cache would be fine, but this one is not stale yet)", got)
		}
		advance(provider.DefaultSwitchTTL)
		if got := caps(b); got != "totp" {
			t.Errorf("replica b after its TTL: %s", got)
		}
		sw.Disabled = false
		if err := st.SetCapabilitySwitch(ctx, sw, store.AuditEvent{Time: clock(), Resource: "switch"}); err != nil {
			t.Fatal(err)
		}
		advance(provider.DefaultSwitchTTL)
		if got := caps(a) + " " + caps(b); got != "smsotp,totp smsotp,totp" {
			t.Errorf("after switching on: %s", got)
		}
		out, _ = a.Validate(ctx, provider.Request{Capability: "smsotp", ID: "s1", Username: "alice"})
		if out.Status != provider.StatusSuccess || engineA.calls != 1 {
			t.Errorf("validate when on: %+v", out)
		}
	})
}

// denyBob is a policy that denies bob every capability.
type denyBob struct{}

func (denyBob) Denied(_ context.Context, username, _ string) (string, error) {
	if username == "bob" {
		return "bob is not allowed", nil
	}
	return "", nil
}

// TestRefusal: what the device API asks before an approval counts is the contract's
// refusal: the provider disabled, the capability not exposed, switched off, a policy's
// denial; "" when none holds.
func TestRefusal(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"push"}, Engine: &countingEngine{},
			Now: func() time.Time { return now }, Policy: denyBob{}, Switches: &provider.SwitchCache{Store: st, Now: func() time.Time { return now }}}
		check := func(user, capability, want string) {
			t.Helper()
			got, err := p.Refusal(ctx, user, capability)
			if err != nil || !strings.Contains(got, want) || (want == "") != (got == "") {
				t.Errorf("Refusal(%s, %s) = %q, %v; want %q", user, capability, got, err, want)
			}
		}
		check("alice", "push", "")
		check("alice", "emfa:PUSH", "")
		check("alice", "totp", "not exposed")
		check("bob", "push", "bob is not allowed")
		sw := store.CapabilitySwitch{Provider: "emfa", Capability: "push", Disabled: true, Reason: "fatigue", UpdatedAt: now}
		if err := st.SetCapabilitySwitch(ctx, sw, store.AuditEvent{Time: now, Resource: "switch"}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(provider.DefaultSwitchTTL)
		check("alice", "push", "switched off org-wide: fatigue")
		p.Enabled = false
		check("alice", "push", "provider disabled")
	})
}
