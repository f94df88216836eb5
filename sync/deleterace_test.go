package sync_test

import (
	"context"
	"errors"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// countsTogether is a queue store whose first two deletion counts (CountApplied) wait for
// each other, or for the other replica to be done: two replicas counting at once.
type countsTogether struct {
	store.SyncQueue
	mu      gosync.Mutex
	arrived int
	both    chan struct{}
	done    chan struct{}
}

func (s *countsTogether) CountApplied(ctx context.Context, source, typ string, since time.Time, afterSeq int64) (int, error) {
	n, err := s.SyncQueue.CountApplied(ctx, source, typ, since, afterSeq)
	s.mu.Lock()
	s.arrived++
	if s.arrived == 2 {
		close(s.both)
	}
	first := s.arrived <= 2
	s.mu.Unlock()
	if first {
		select {
		case <-s.both:
		case <-s.done:
		}
	}
	return n, err
}

// TestDeletionGuardAcrossReplicas: with sync.maxDeletesPerHour at 2 and one
// deletion applied, two replicas each taking one more deletion at once apply one of them
// and pause the source before the other, whichever counts first. Each counted the
// deletions applied (1, under the limit) and only then applied its own, so both deleted
// their user: 3 users deleted in the hour, one more than the limit, before the guard
// paused the source (and one more per replica beside them, or per SCIM DELETE beside a
// worker).
func TestDeletionGuardAcrossReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		a, m, clk := newQueue(t, st)
		a.MaxDeletesPerHour, a.Batch = 2, 1
		shared := &countsTogether{SyncQueue: a.Store, both: make(chan struct{}), done: make(chan struct{})}
		b := (&sync.Queue{Store: shared, Applier: a.Applier, Now: clk.Now, Owner: "replica-b", MaxDeletesPerHour: 2, Batch: 1}).Init()
		t0 := clk.Now().Add(-time.Minute)
		var evs []provider.LifecycleEvent
		for i, name := range []string{"alice", "bob", "carol"} {
			evs = append(evs, ev("c"+name, provider.EventUserCreate, name, t0.Add(time.Duration(i)*time.Second)))
		}
		evs = append(evs, ev("dalice", provider.EventUserDelete, "alice", t0.Add(10*time.Second)))
		if _, err := a.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		drain(t, a)
		if _, err := a.Enqueue(ctx, []provider.LifecycleEvent{
			ev("dbob", provider.EventUserDelete, "bob", t0.Add(20*time.Second)),
			ev("dcarol", provider.EventUserDelete, "carol", t0.Add(21*time.Second)),
		}); err != nil {
			t.Fatal(err)
		}
		a.Store = shared
		var wg gosync.WaitGroup
		var once gosync.Once
		for _, q := range []*sync.Queue{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer once.Do(func() { close(shared.done) })
				if _, err := q.RunOnce(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		left := 0
		for _, name := range []string{"bob", "carol"} {
			_, err := m.GetUser(ctx, name)
			var le *lifecycle.Error
			switch {
			case err == nil:
				left++
			case !errors.As(err, &le) || le.Kind != lifecycle.NotFound:
				t.Fatal(err)
			}
		}
		if left != 1 {
			t.Errorf("%d of bob and carol left after two replicas' deletions at once; want 1: the limit is 2 an hour, alice's the first", left)
		}
		if ps, err := st.(store.SyncQueue).ListPauses(ctx); err != nil || len(ps) != 1 {
			t.Errorf("pauses: %v, %v; want okta's", ps, err)
		}
	})
}
