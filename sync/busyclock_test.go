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

// TestBusyHoldFromWrongClock: a vendor's hold shared in the store by a replica
// whose clock is a day ahead holds the other replicas no longer than the longest hold a
// refusal can ask (MaxRetryAfter, past the skew allowed). The mark only moves forward, a
// restart does not clear it and no command lifts it: every replica sent that vendor
// nothing for a day.
func TestBusyHoldFromWrongClock(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		b, _, clk := newQueue(t, st)
		duo := &limitedVendor{limited: true}
		b.Propagators = []provider.LifecyclePropagator{duo}
		ahead := func() time.Time { return clk.Now().Add(24 * time.Hour) }
		a := (&sync.Queue{Store: b.Store, Applier: b.Applier, Now: ahead, Owner: "replica-a",
			Propagators: []provider.LifecyclePropagator{duo}}).Init()
		var evs []provider.LifecycleEvent
		for i, name := range []string{"alice", "bob", "carol"} {
			evs = append(evs, ev(fmt.Sprint(i), provider.EventUserCreate, name, clk.Now().Add(-time.Minute)))
		}
		if _, err := b.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if _, err := b.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a.PropagateOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if duo.calls != 1 {
			t.Fatalf("replica a called the vendor %d times, want once", duo.calls)
		}
		duo.mu.Lock()
		duo.limited = false
		duo.mu.Unlock()
		clk.Advance(sync.MaxRetryAfter + sync.MaxFutureSkew + time.Second)
		if _, err := b.PropagateOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if len(duo.done) != 2 {
			t.Errorf("replica b, past the longest hold, sent the vendor %v; want the two a gave back", duo.done)
		}
	})
}
