package sync_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// queueStore is a store with its sync queue.
type queueStore interface {
	store.Store
	store.SyncQueue
}

// stuckQueue is a real store whose writes of an event's outcome (FinishEvent,
// FinishApplied, FinishAppliedEvents) or of a user change (ApplyUserChanges), as its fields say, do not answer, as a store behind a
// partition does: such a call waits until its context ends, or until the test releases
// it (a call that would wait forever must not outlive the test).
type stuckQueue struct {
	queueStore
	finish, apply bool
	release       chan struct{}
}

func (s *stuckQueue) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.release:
		return context.Canceled
	}
}

func (s *stuckQueue) FinishEvent(ctx context.Context, seq int64, owner, state, note string, applied bool, nextAt, now time.Time) error {
	if s.finish {
		return s.wait(ctx)
	}
	return s.queueStore.FinishEvent(ctx, seq, owner, state, note, applied, nextAt, now)
}

func (s *stuckQueue) FinishApplied(ctx context.Context, seq int64, owner, note string, props []store.QueuedEvent, now time.Time) error {
	if s.finish {
		return s.wait(ctx)
	}
	return s.queueStore.FinishApplied(ctx, seq, owner, note, props, now)
}

func (s *stuckQueue) FinishAppliedEvents(ctx context.Context, owner string, evs []store.AppliedEvent, now time.Time) error {
	if s.finish {
		return s.wait(ctx)
	}
	return s.queueStore.FinishAppliedEvents(ctx, owner, evs, now)
}

func (s *stuckQueue) ApplyUserChanges(ctx context.Context, changes []store.UserChange) []error {
	if s.apply {
		err := s.wait(ctx)
		errs := make([]error, len(changes))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	return s.queueStore.ApplyUserChanges(ctx, changes)
}

// TestStuckStoreQueue: what the queue writes even when its caller has gone away or its
// worker is stopping (an event applied at once, the record of an event's outcome) still
// ends when the store does not answer: by the request's deadline and provider.WriteGrace
// for an event handled at once, and WriteGrace after the stop for the worker's, so that
// neither a goroutine and its connection nor a shutdown waiting for the worker is held
// forever.
func TestStuckStoreQueue(t *testing.T) {
	const timeout = 10 * time.Second
	created := func(q *sync.Queue) provider.LifecycleEvent {
		return ev("1", provider.EventUserCreate, "alice", q.Now().Add(-time.Minute))
	}
	for _, c := range []struct {
		name string
		// request: the call has a request's deadline; otherwise it is a worker's, told
		// to stop once it waits for the store.
		request       bool
		finish, apply bool                                           // what does not answer
		before        func(ctx context.Context, q *sync.Queue) error // while the store answers
		run           func(ctx context.Context, q *sync.Queue) error
	}{
		{name: "the worker records an event done", finish: true, run: func(ctx context.Context, q *sync.Queue) error {
			_, err := q.RunOnce(ctx)
			return err
		}},
		{name: "the worker records a failure to retry", finish: true, before: func(ctx context.Context, q *sync.Queue) error {
			propagating(q).fail = true
			_, err := q.RunOnce(ctx) // applied, its propagation queued
			return err
		}, run: func(ctx context.Context, q *sync.Queue) error {
			_, err := q.PropagateOnce(ctx, 0)
			return err
		}},
		{name: "an event handled at once is applied", request: true, apply: true, run: func(ctx context.Context, q *sync.Queue) error {
			return q.ApplyNow(ctx, created(q))
		}},
		{name: "an event handled at once is recorded", request: true, finish: true, run: func(ctx context.Context, q *sync.Queue) error {
			return q.ApplyNow(ctx, created(q))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &stuckQueue{queueStore: testdb.SQLite(t).(queueStore), release: make(chan struct{})}
				q, _, _ := newQueue(t, st)
				var ctx context.Context
				var cancel context.CancelFunc
				limit := provider.WriteGrace
				if c.request {
					ctx, cancel = context.WithTimeout(t.Context(), timeout)
					limit += timeout
				} else {
					ctx, cancel = context.WithCancel(t.Context())
					if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{created(q)}); err != nil {
						t.Fatal(err)
					}
				}
				defer cancel()
				if c.before != nil {
					if err := c.before(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
				st.finish, st.apply = c.finish, c.apply
				done := make(chan error, 1)
				go func() { done <- c.run(ctx, q) }()
				synctest.Wait() // it waits for the store
				if !c.request {
					cancel() // the worker is told to stop
				}
				time.Sleep(limit) // fake time: the bound is exact
				synctest.Wait()
				select {
				case <-done:
				default:
					t.Errorf("still waiting for the store %v after the call's start or the worker's stop", limit)
					close(st.release)
					<-done
				}
			})
		})
	}
}
