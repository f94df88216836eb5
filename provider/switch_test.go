package provider_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// vendorDown is an engine whose vendor is out: each lookup is counted, and answers what a
// remote engine answers a vendor that does not (nothing) once its timeout has passed.
type vendorDown struct {
	countingEngine
	lookups atomic.Int32
}

func (e *vendorDown) Enrollments(context.Context, string) ([]provider.Enrollment, error) {
	e.lookups.Add(1)
	return nil, nil
}

// TestAllSwitchedOffAsksNoVendor: a provider whose every capability is switched off
// org-wide (its vendor's outage, README's lever for one) answers enrollments [] without
// asking its engine: before, each of Verify's lookups still went to the vendor that is
// out, and waited its timeout. One capability on again, the engine is asked again.
func TestAllSwitchedOffAsksNoVendor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		e := &vendorDown{}
		switches := &provider.SwitchCache{Store: st, Now: clock}
		p := &provider.Provider{CredentialPrefix: "duo", Enabled: true, Capabilities: []string{"smsotp", "push"},
			Engine: e, Now: clock, Switches: switches}
		set := func(capability string, disabled bool) {
			t.Helper()
			sw := store.CapabilitySwitch{Provider: "duo", Capability: capability, Disabled: disabled, Reason: "DUO outage", UpdatedAt: now}
			if err := st.SetCapabilitySwitch(ctx, sw, store.AuditEvent{Time: now, Resource: "switch"}); err != nil {
				t.Fatal(err)
			}
			switches.Invalidate()
		}
		set("smsotp", true)
		set("push", true)
		list, err := p.Enrollments(ctx, "alice")
		if err != nil || len(list) != 0 {
			t.Fatalf("enrollments while all is off: %v, %v", list, err)
		}
		if n := e.lookups.Load(); n != 0 {
			t.Errorf("every capability switched off, yet the engine (the vendor that is out) was asked %d times", n)
		}
		set("push", false)
		if _, err := p.Enrollments(ctx, "alice"); err != nil || e.lookups.Load() == 0 {
			t.Errorf("push on again: the engine was not asked (%v)", err)
		}
	})
}
