package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Two updates of a user's profile, each of part of it (the display name and the e-mail,
// then the e-mail alone), are both applied before the first one's propagation runs. The
// second one's propagation carries only the e-mail; so the first one's must still carry
// the display name, as emfa has it now, or the new display name never reaches the vendor.
func TestUpdatePropagatedAfterNewerUpdateKeepsItsFields(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		t0 := clk.Now().Add(-time.Minute)
		create := ev("1", provider.EventUserCreate, "alice", t0)
		create.Email, create.DisplayName = str("alice@example.com"), str("Alice")
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{create}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		upd1 := ev("2", provider.EventUserUpdate, "alice", t0.Add(time.Second))
		upd1.Email, upd1.DisplayName = str("alice@example.org"), str("Alice Liddell")
		upd2 := ev("3", provider.EventUserUpdate, "alice", t0.Add(2*time.Second))
		upd2.Email = str("alice@example.net")
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{upd1, upd2}); err != nil {
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
			t.Errorf("the vendor was last given display name %q and e-mail %q, want the user's, %q and %q; given %+v",
				displayName, email, "Alice Liddell", "alice@example.net", duo.given())
		}
	})
}
