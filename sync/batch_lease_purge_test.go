package sync_test

import (
	"context"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestApplyBatchNotBegunAfterLease: a batch of events shares one lease, which a
// slow apply before the last of them may outlive; another replica then claims the events
// of the batch this worker has not begun, and applies them. This worker must not begin
// one of them beside it (README: "one worker per event across replicas"): RunOnce takes
// each event's lease again before it begins it, as PropagateOnce does.
func TestApplyBatchNotBegunAfterLease(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		slow := &testdb.BeforeUserChanges{Store: st}
		clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
		m, err := lifecycle.New(lifecycle.Options{Store: slow, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		sq := st.(store.SyncQueue)
		a := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq, Now: clk.Now}, Now: clk.Now}).Init()
		var taken []store.QueuedEvent
		slow.Before = func() {
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

// purgeWatch counts the queue's claims and purges, and tells of each.
type purgeWatch struct {
	store.SyncQueue
	mu     gosync.Mutex
	claims int // since the last purge
	purged int
	called chan struct{}
}

func (w *purgeWatch) ClaimEvents(ctx context.Context, owner string, limit int, now, leaseUntil, settledBefore time.Time) ([]store.QueuedEvent, error) {
	w.mu.Lock()
	w.claims++
	w.mu.Unlock()
	wakeUp(w.called)
	return w.SyncQueue.ClaimEvents(ctx, owner, limit, now, leaseUntil, settledBefore)
}

func (w *purgeWatch) DeleteDoneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := w.SyncQueue.DeleteDoneEvents(ctx, before, limit)
	w.mu.Lock()
	w.claims = 0
	w.purged += n
	w.mu.Unlock()
	wakeUp(w.called)
	return n, err
}

func wakeUp(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// TestPurgeKeepsUpWithASource: Run purged at most one batch (10,000) of finished
// events an hour, so a source sending more than that an hour grew sync_events without
// bound. A full batch is followed by another, one per turn of the worker, until the
// purge has caught up.
func TestPurgeKeepsUpWithASource(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		q, _, clk := newQueue(t, st)
		t0 := clk.Now().Add(-time.Minute)
		var evs []provider.LifecycleEvent
		for i := range 25 {
			evs = append(evs, ev(fmt.Sprint(i), provider.EventUserCreate, fmt.Sprint("u", i), t0))
		}
		if _, err := q.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if n := drain(t, q); n != 25 {
			t.Fatalf("drained %d events, want 25", n)
		}
		clk.Advance(q.KeepDone + time.Hour) // all 25 are due for the purge, and stay so
		w := &purgeWatch{SyncQueue: q.Store, called: make(chan struct{}, 1)}
		q.Store = w
		q.Poll = time.Millisecond
		q.PurgeBatch = 10
		ran := make(chan struct{})
		go func() { defer close(ran); q.Run(ctx) }()
		defer func() { cancel(); <-ran }()
		for {
			select {
			case <-w.called:
			case <-time.After(30 * time.Second):
				t.Fatal("the queue's worker stopped turning")
			}
			w.mu.Lock()
			purged, claims := w.purged, w.claims
			w.mu.Unlock()
			if purged == 25 {
				return
			}
			if purged > 0 && claims >= 3 {
				t.Fatalf("the worker turned %d times after a full purge batch without purging again: %d of 25 purged", claims, purged)
			}
		}
	})
}
