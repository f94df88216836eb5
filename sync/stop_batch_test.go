package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// stopAfterClaim is a queue store whose claims stop the worker as soon as they return:
// serve's SIGTERM arriving while the worker holds a batch.
type stopAfterClaim struct {
	store.SyncQueue
	stop context.CancelFunc
}

func (s stopAfterClaim) ClaimEvents(ctx context.Context, owner string, limit int, now, leaseUntil, settledBefore time.Time) ([]store.QueuedEvent, error) {
	evs, err := s.SyncQueue.ClaimEvents(ctx, owner, limit, now, leaseUntil, settledBefore)
	s.stop()
	return evs, err
}

func (s stopAfterClaim) ClaimPropagations(ctx context.Context, target, owner string, limit int, now, leaseUntil time.Time) ([]store.QueuedEvent, error) {
	evs, err := s.SyncQueue.ClaimPropagations(ctx, target, owner, limit, now, leaseUntil)
	s.stop()
	return evs, err
}

// A worker stopped (serve's shutdown) while it holds a claimed batch gives the batch back
// untried: no event of it counts an attempt, waits a backoff, or, on its last attempt, is
// dead-lettered because the process was stopping. Before, every event of the batch failed
// with "context canceled" as an attempt, and one at its last was dead-lettered.
func TestStopGivesBackTheClaimedBatch(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		bg := context.Background()
		q, _, clk := newQueue(t, st)
		q.MaxAttempts = 1
		prop := propagating(q)
		if _, err := q.Enqueue(bg, []provider.LifecycleEvent{
			ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute)),
			ev("2", provider.EventUserCreate, "bob", clk.Now().Add(-time.Minute)),
		}); err != nil {
			t.Fatal(err)
		}
		check := func(what string, n int) {
			t.Helper()
			if dead, err := q.Store.ListEvents(bg, store.QueueFilter{State: store.QueueDead}); err != nil || len(dead) != 0 {
				for _, e := range dead {
					t.Errorf("%s: %s dead-lettered by the stop: %s", what, e.EventID, e.Note)
				}
				t.Fatalf("%s: %d dead letters, %v", what, len(dead), err)
			}
			pending, err := q.Store.ListEvents(bg, store.QueueFilter{State: store.QueuePending})
			if err != nil || len(pending) != n {
				t.Fatalf("%s: pending = %+v, %v; want %d", what, pending, err, n)
			}
			for _, e := range pending {
				if e.Attempts != 0 || e.NextAt.After(clk.Now()) {
					t.Errorf("%s: %s not given back untried: attempts %d, next %v (now %v), note %q",
						what, e.EventID, e.Attempts, e.NextAt, clk.Now(), e.Note)
				}
			}
		}

		ctx, stop := context.WithCancel(bg)
		inner := q.Store
		q.Store = stopAfterClaim{SyncQueue: inner, stop: stop}
		_, _ = q.RunOnce(ctx)
		check("events", 2)

		// Claimable again at once (their leases given back); applied, they queue a
		// propagation each, and the stop comes while those are claimed.
		q.Store = inner
		if n, err := q.RunOnce(bg); n != 2 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		ctx, stop = context.WithCancel(bg)
		q.Store = stopAfterClaim{SyncQueue: inner, stop: stop}
		_, _ = q.PropagateOnce(ctx, 0)
		check("propagations", 2)
		q.Store = inner
		drain(t, q)
		if len(prop.got) != 2 {
			t.Errorf("propagated after the restart: %v", prop.got)
		}
	})
}
