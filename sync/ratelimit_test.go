package sync_test

import (
	"context"
	"fmt"
	gosync "sync"
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

// TestRetryAfterHonoured: a propagation the vendor refused for now, saying when
// to come back (429 or 503 with Retry-After), is tried again then, not at the queue's own
// backoff: before, it was tried again 2 s later, then 4, 8 … whatever the vendor asked, so
// a vendor rate-limiting for ten minutes was asked again eight times meanwhile, and the
// propagation, refused each time, was a dead letter within a quarter of an hour while the
// vendor was only busy. The wait is the queue's backoff when that is longer, and at most
// sync.MaxRetryAfter, whatever the vendor says.
func TestRetryAfterHonoured(t *testing.T) {
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

// limitedVendor is a vendor that rate-limits: while limited it refuses every call as
// DUO's Admin API does (429, with no Retry-After: RetryAfter 0); it counts the calls.
type limitedVendor struct {
	mu      gosync.Mutex
	limited bool
	calls   int
	done    []string
}

func (v *limitedVendor) PropagationTarget() string { return "limited" }
func (v *limitedVendor) Propagate(_ context.Context, ev provider.LifecycleEvent) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	if v.limited {
		return fmt.Errorf("propagate %s to limited: step add: %w", ev.Type, busyError{0})
	}
	v.done = append(v.done, ev.Username)
	return nil
}

// TestRateLimitedVendorNotHammered: once the vendor answers a propagation 429,
// the worker stops its batch there: the propagations it had claimed besides are given
// back untried (no attempt counted, no call made), and it claims none until the refused
// one is due again. Before, each of them was sent and refused in turn (a bulk import of
// a thousand users to a DUO already at its limit: a thousand refused calls, each of which
// DUO counts against the limit, each spending one of the propagation's attempts, so that
// a long import ended with users dead-lettered only for being sent too fast).
func TestRateLimitedVendorNotHammered(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := &limitedVendor{limited: true}
		q.Propagators = []provider.LifecyclePropagator{duo}
		var evs []provider.LifecycleEvent
		for i, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
			evs = append(evs, ev(fmt.Sprint(i), provider.EventUserCreate, name, clk.Now().Add(-time.Minute)))
		}
		if _, err := q.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if duo.calls != 1 {
			t.Errorf("the vendor, rate-limiting, was called %d times, want once", duo.calls)
		}
		pending, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("limited"), State: store.QueuePending, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		attempts := 0
		for _, p := range pending {
			attempts += p.Attempts
		}
		if len(pending) != 5 || attempts != 1 {
			t.Errorf("%d propagations pending, %d attempts among them, want 5 and 1", len(pending), attempts)
		}
		// Its limit passed, the vendor gets them all.
		duo.mu.Lock()
		duo.limited = false
		duo.mu.Unlock()
		clk.Advance(2 * time.Second)
		drain(t, q)
		if len(duo.done) != 5 {
			t.Errorf("the vendor has %v, want all five", duo.done)
		}
	})
}
