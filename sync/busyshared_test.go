package sync_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestBusyVendorHeldAcrossReplicas: a vendor that answered one replica's
// propagation 429 is sent nothing by the other replicas either until the refused
// propagation is due again. README ("Propagation to vendors") says the provider's worker
// sends that vendor nothing more meanwhile; the hold lived in the refused worker's memory,
// so on two replicas the other one kept claiming that vendor's propagations, each sent and
// refused, an attempt spent and a call the vendor counts against its limit.
func TestBusyVendorHeldAcrossReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		a, _, clk := newQueue(t, st)
		duo := &limitedVendor{limited: true}
		a.Propagators = []provider.LifecyclePropagator{duo}
		b := (&sync.Queue{Store: a.Store, Applier: a.Applier, Now: clk.Now, Owner: "replica-b",
			Propagators: []provider.LifecyclePropagator{duo}}).Init()
		var evs []provider.LifecycleEvent
		for i, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
			evs = append(evs, ev(fmt.Sprint(i), provider.EventUserCreate, name, clk.Now().Add(-time.Minute)))
		}
		if _, err := a.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if _, err := a.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a.PropagateOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if duo.calls != 1 {
			t.Fatalf("replica a called the vendor %d times, want once", duo.calls)
		}
		if _, err := b.PropagateOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if duo.calls != 1 {
			t.Errorf("replica b called the rate-limiting vendor: %d calls in all, want 1", duo.calls)
		}
		// Due again, either replica carries them all out.
		duo.mu.Lock()
		duo.limited = false
		duo.mu.Unlock()
		clk.Advance(2 * time.Second)
		if _, err := b.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if len(duo.done) != 5 {
			t.Errorf("the vendor has %v, want all five", duo.done)
		}
	})
}
