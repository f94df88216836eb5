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

// busyVendor answers every propagation as a vendor that rate-limits it does: a failure
// that says how long to wait (a 429's Retry-After, as the remote engine's error carries it).
type busyVendor struct{ after time.Duration }

type busyError struct{ after time.Duration }

func (e busyError) Error() string {
	return fmt.Sprintf("vendor answered 429 (Retry-After %s)", e.after)
}
func (e busyError) RetryAfter() time.Duration { return e.after }

func (busyVendor) PropagationTarget() string { return "busy" }
func (v busyVendor) Propagate(context.Context, provider.LifecycleEvent) error {
	return fmt.Errorf("propagate user.create to busy: step add: %w", busyError{v.after})
}

// TestReviewC42RetryAfterHonoured: a propagation the vendor refused for now, saying when
// to come back (429 or 503 with Retry-After), is tried again then, not at the queue's own
// backoff: before, it was tried again 2 s later, then 4, 8 … whatever the vendor asked, so
// a vendor rate-limiting for ten minutes was asked again eight times meanwhile, and the
// propagation, refused each time, was a dead letter within a quarter of an hour while the
// vendor was only busy. The wait is the queue's backoff when that is longer, and at most
// sync.MaxRetryAfter, whatever the vendor says.
func TestReviewC42RetryAfterHonoured(t *testing.T) {
	for _, c := range []struct {
		name        string
		after, want time.Duration
	}{
		{"longer than the backoff", 5 * time.Minute, 5 * time.Minute},
		{"shorter than the backoff", time.Second, 2 * time.Second},
		{"a week", 7 * 24 * time.Hour, sync.MaxRetryAfter},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				q, _, clk := newQueue(t, st)
				q.Propagators = []provider.LifecyclePropagator{busyVendor{c.after}}
				if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute))}); err != nil {
					t.Fatal(err)
				}
				drain(t, q)
				evs, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("busy"), Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != 1 || evs[0].State != store.QueuePending || evs[0].Attempts != 1 {
					t.Fatalf("the propagation: %+v, want pending after one attempt", evs)
				}
				if got := evs[0].NextAt.Sub(clk.Now()); got != c.want {
					t.Errorf("next attempt in %s, want %s", got, c.want)
				}
			})
		})
	}
}
