package sync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestDropPendingOfRemovedVendor: what was queued for a vendor a reload removed waits for
// its return; an operator who knows it will not come back drops it, recorded with how
// many, and the vendor, were it added back after all, is not sent it. The other vendor's
// propagations and the source's events are not touched, and a drop of nothing records
// nothing.
func TestDropPendingOfRemovedVendor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		duo, okta := newVendor("duo"), newVendor("okta")
		q.Propagators = []provider.LifecyclePropagator{duo, okta}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{
			ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute)),
			ev("2", provider.EventUserCreate, "bob", clk.Now().Add(-time.Minute)),
		}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := q.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := q.SwapPropagators([]provider.LifecyclePropagator{okta}); err != nil {
			t.Fatal(err)
		}
		if n, err := q.DropPending(ctx, "ops", "scim"); n != 0 || err != nil {
			t.Errorf("drop of scim's, none pending: %d, %v", n, err)
		}
		if _, err := q.DropPending(ctx, "ops", ""); err == nil {
			t.Error("a drop that names no source dropped")
		}
		n, err := q.DropPending(ctx, "ops", store.PropagationSource("duo"))
		if n != 2 || err != nil {
			t.Fatalf("dropped %d, %v; want duo's 2", n, err)
		}
		wantTrail(t, m, "admin.sync.drop", "SUCCESS ops 2 pending event(s) of propagate:duo")
		if _, err := q.SwapPropagators([]provider.LifecyclePropagator{duo, okta}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if got := duo.got(); len(got) != 0 {
			t.Errorf("duo, added back, was sent what was dropped: %q", got)
		}
		if got := okta.got(); !slices.Equal(got, []string{"user.create alice", "user.create bob"}) {
			t.Errorf("okta was sent %q", got)
		}
		c, err := q.Store.CountEvents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c["okta"][store.QueueDone] != 2 || c[store.PropagationSource("duo")][store.QueueDone] != 2 {
			t.Errorf("counts %v", c)
		}
	})
}
