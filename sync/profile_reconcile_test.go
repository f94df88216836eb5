package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// appliedThenPropagated enqueues evs, applies each (their propagations queued, none run
// yet: the vendor was slow, or the worker had not polled), then drains the queue.
func appliedThenPropagated(t *testing.T, q *sync.Queue, evs ...provider.LifecycleEvent) {
	t.Helper()
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for range evs {
		if n, err := q.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
	}
	drain(t, q)
}

// wantLastProfile checks the display name and e-mail the vendor was last given.
func wantLastProfile(t *testing.T, v *vendor, displayName, email string) {
	t.Helper()
	var gotName, gotEmail string
	for _, g := range v.given() {
		if g.DisplayName != nil {
			gotName = *g.DisplayName
		}
		if g.Email != nil {
			gotEmail = *g.Email
		}
	}
	if gotName != displayName || gotEmail != email {
		t.Errorf("the vendor was last given display name %q and e-mail %q, want the user's, %q and %q; given %+v",
			gotName, gotEmail, displayName, email, v.given())
	}
}

// A user's create and a newer update of part of the profile (a SCIM POST, then a PATCH of
// the e-mail alone) are both applied before the create's propagation runs. The update's
// propagation carries only what it changed, the e-mail; so the create's must carry the
// rest of the profile as emfa has it now, or the display name the create set never
// reaches the vendor.
func TestCreatePropagatedAfterNewerUpdateKeepsProfile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		t0 := clk.Now().Add(-time.Minute)
		create := ev("1", provider.EventUserCreate, "alice", t0)
		create.Email, create.DisplayName = str("alice@example.com"), str("Alice Liddell")
		upd := ev("2", provider.EventUserUpdate, "alice", t0.Add(time.Second))
		upd.Email = str("alice@example.net")
		appliedThenPropagated(t, q, create, upd)
		wantLastProfile(t, duo, "Alice Liddell", "alice@example.net")
	})
}

// Two updates of a user's profile, each of part of it (the display name and the e-mail,
// then the e-mail alone), are both applied before the first one's propagation runs. The
// second one's propagation carries only the e-mail; so the first one's must still carry
// the display name, as emfa has it now, or the new display name never reaches the vendor.
func TestUpdatePropagatedAfterNewerUpdateKeepsItsFields(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		t0 := clk.Now().Add(-time.Minute)
		create := ev("1", provider.EventUserCreate, "alice", t0)
		create.Email, create.DisplayName = str("alice@example.com"), str("Alice")
		if _, err := q.Enqueue(context.Background(), []provider.LifecycleEvent{create}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		upd1 := ev("2", provider.EventUserUpdate, "alice", t0.Add(time.Second))
		upd1.Email, upd1.DisplayName = str("alice@example.org"), str("Alice Liddell")
		upd2 := ev("3", provider.EventUserUpdate, "alice", t0.Add(2*time.Second))
		upd2.Email = str("alice@example.net")
		appliedThenPropagated(t, q, upd1, upd2)
		wantLastProfile(t, duo, "Alice Liddell", "alice@example.net")
	})
}
