package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A user's create and a newer update of part of the profile (a SCIM POST, then a PATCH of
// the e-mail alone) are both applied before the create's propagation runs (the vendor was
// slow, or the worker had not polled yet). The update's propagation carries only what it
// changed, the e-mail; so the create's must carry the rest of the profile as emfa has it
// now, or the display name the create set never reaches the vendor.
func TestCreatePropagatedAfterNewerUpdateKeepsProfile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		t0 := clk.Now().Add(-time.Minute)
		create := ev("1", provider.EventUserCreate, "alice", t0)
		create.Email, create.DisplayName = str("alice@example.com"), str("Alice Liddell")
		upd := ev("2", provider.EventUserUpdate, "alice", t0.Add(time.Second))
		upd.Email = str("alice@example.net")
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{create, upd}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // both applied, their propagations queued
			if n, err := q.RunOnce(ctx); n != 1 || err != nil {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
		}
		drain(t, q)
		var displayName, email string
		for _, g := range duo.given() {
			if g.DisplayName != nil {
				displayName = *g.DisplayName
			}
			if g.Email != nil {
				email = *g.Email
			}
		}
		if displayName != "Alice Liddell" || email != "alice@example.net" {
			t.Errorf("the vendor was given display name %q and e-mail %q, want the user's, %q and %q; given %+v",
				displayName, email, "Alice Liddell", "alice@example.net", duo.given())
		}
	})
}
