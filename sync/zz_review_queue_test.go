package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestReviewApplyBatchNotBegunAfterLease: a batch of events shares one lease, which a
// slow apply before the last of them may outlive; another replica then claims the events
// of the batch this worker has not begun, and applies them. This worker must not begin
// one of them beside it (README: "one worker per event across replicas"): RunOnce takes
// each event's lease again before it begins it, as PropagateOnce does.
func TestReviewApplyBatchNotBegunAfterLease(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		slow := &appliesAfter{Store: st}
		clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
		m, err := lifecycle.New(lifecycle.Options{Store: slow, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		sq := st.(store.SyncQueue)
		a := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq, Now: clk.Now}, Now: clk.Now}).Init()
		var taken []store.QueuedEvent
		slow.before = func() {
			clk.Advance(2 * time.Minute) // past the batch's lease (1 minute)
			now := clk.Now()
			evs, err := sq.ClaimEvents(ctx, "other", 100, now, now.Add(time.Minute), now)
			if err != nil {
				t.Error(err)
			}
			taken = evs
		}
		t0 := clk.Now().Add(-time.Minute)
		if _, err := a.Enqueue(ctx, []provider.LifecycleEvent{
			ev("1", provider.EventUserCreate, "alice", t0), ev("2", provider.EventUserCreate, "bob", t0.Add(time.Second)),
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		bobTaken := false
		for _, e := range taken {
			bobTaken = bobTaken || e.EventID == "2"
		}
		if !bobTaken {
			t.Fatalf("the other replica did not claim bob's create: %v", taken)
		}
		// The other replica holds bob's create and has not applied it yet: this worker,
		// whose lease passed, must have left it alone.
		if u, err := m.GetUser(ctx, "bob"); err == nil {
			t.Errorf("bob's create, leased to another replica, was applied by the worker whose lease passed: %+v", u)
		}
	})
}
