package sync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// slowFirst is a propagator whose first call runs during before it reaches the vendor:
// a vendor slow enough that the claim's lease passes meanwhile.
type slowFirst struct {
	*vendor
	during func()
	called bool
}

func (s *slowFirst) Propagate(ctx context.Context, ev provider.LifecycleEvent) error {
	if !s.called {
		s.called = true
		s.during()
	}
	return s.vendor.Propagate(ctx, ev)
}

// A batch of propagations outlives its lease when a vendor is slow: another replica then
// claims, and carries out, the propagations of the batch this worker has not begun. This
// worker must not carry them out a second time: each user's create reaches the vendor once
// from the replica that holds it (a second, concurrent run is how a look-up-then-create
// makes two groups at DUO).
func TestPropagationBatchNotStartedAfterLease(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		a, _, clk := newQueue(t, st)
		b, _, _ := newQueue(t, st)
		b.Now = clk.Now
		duo := newVendor("duo")
		b.Propagators = []provider.LifecyclePropagator{duo}
		a.Propagators = []provider.LifecyclePropagator{&slowFirst{vendor: duo, during: func() {
			clk.Advance(2 * time.Minute) // past the batch's lease (1 minute)
			if _, err := b.PropagateOnce(ctx, 0); err != nil {
				t.Error(err)
			}
		}}}
		t0 := clk.Now().Add(-time.Minute)
		if _, err := a.Enqueue(ctx, []provider.LifecycleEvent{
			ev("1", provider.EventUserCreate, "alice", t0), ev("2", provider.EventUserCreate, "bob", t0.Add(time.Second)),
		}); err != nil {
			t.Fatal(err)
		}
		if n, err := a.RunOnce(ctx); n != 2 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if _, err := a.PropagateOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		bobs := 0
		for _, c := range duo.got() {
			if c == "user.create bob" {
				bobs++
			}
		}
		if bobs != 1 {
			t.Errorf("bob's create reached the vendor %d times, want once: %q", bobs, duo.got())
		}
		if !slices.Contains(duo.got(), "user.create alice") {
			t.Errorf("alice's create never reached the vendor: %q", duo.got())
		}
	})
}
