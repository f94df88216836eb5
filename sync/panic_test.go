package sync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// panicking is a propagator with a bug: it panics on every event.
type panicking struct{}

func (panicking) PropagationTarget() string { return "buggy" }
func (panicking) Propagate(context.Context, provider.LifecycleEvent) error {
	var m map[string]int
	m["x"]++ // a nil map: a bug's runtime panic
	return nil
}

// TestPropagatorPanic: a propagator that panics fails its propagation, which is
// retried and in the end dead-lettered as any failure; the worker goes on. Before, the
// panic ended the worker's goroutine, and the process with it, on every replica that
// claimed the propagation again once its lease passed.
func TestPropagatorPanic(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{panicking{}, duo}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute))}); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("the panic reached the worker: %v", r)
				}
			}()
			drain(t, q)
		}()
		if got := duo.got(); len(got) != 1 {
			t.Errorf("the other vendor got %q", got)
		}
		evs, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("buggy"), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].State != store.QueuePending || evs[0].Attempts != 1 || !strings.Contains(evs[0].Note, "panic") ||
			strings.Contains(evs[0].Note, "goroutine") {
			t.Errorf("the propagation: %+v, want pending, retried once, its note saying it panicked (no stack)", evs)
		}
	})
}
