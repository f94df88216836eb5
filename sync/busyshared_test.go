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
		_, b, duo, clk := refusedOnOne(t, st, 5, 0)
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

// refusedOnOne is two replicas of one queue on st whose vendor (duo, limited) holds n
// users' creations, and the one whose clock is ahead by ahead (the first, when 0) had its
// first propagation refused 429: refused, then the other replica, the vendor and the
// first replica's clock.
func refusedOnOne(t *testing.T, st store.Store, n int, ahead time.Duration) (refused, other *sync.Queue, duo *limitedVendor, clk *clock) {
	t.Helper()
	ctx := context.Background()
	q, _, clk := newQueue(t, st)
	duo = &limitedVendor{limited: true}
	q.Propagators = []provider.LifecyclePropagator{duo}
	r := (&sync.Queue{Store: q.Store, Applier: q.Applier, Now: func() time.Time { return clk.Now().Add(ahead) },
		Owner: "replica-b", Propagators: []provider.LifecyclePropagator{duo}}).Init()
	var evs []provider.LifecycleEvent
	for i, name := range []string{"alice", "bob", "carol", "dave", "erin"}[:n] {
		evs = append(evs, ev(fmt.Sprint(i), provider.EventUserCreate, name, clk.Now().Add(-time.Minute)))
	}
	if _, err := q.Enqueue(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := q.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	refused, other = q, r
	if ahead != 0 {
		refused, other = r, q
	}
	if _, err := refused.PropagateOnce(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if duo.calls != 1 {
		t.Fatalf("the refused replica called the vendor %d times, want once", duo.calls)
	}
	return refused, other, duo, clk
}
