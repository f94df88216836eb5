package sync_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// heldVendor is a vendor whose first propagation waits, once it has begun, until release
// is closed.
type heldVendor struct {
	*vendor
	began, release chan struct{}
}

func (v *heldVendor) Propagate(ctx context.Context, ev provider.LifecycleEvent) error {
	select {
	case <-v.began:
	default:
		close(v.began)
		<-v.release
	}
	return v.vendor.Propagate(ctx, ev)
}

// TestSwapPropagators: a reload's propagators (the same target, new credentials) take
// every propagation that starts after the swap, while one running on the replaced
// propagator ends there; the swap's retired waits for it, so that its engine is closed
// only then. Propagators that do not name the queue's targets are refused, and the
// current ones stay.
func TestSwapPropagators(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		old := &heldVendor{vendor: newVendor("duo"), began: make(chan struct{}), release: make(chan struct{})}
		q.Propagators = []provider.LifecyclePropagator{old}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute))}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		running := make(chan error, 1)
		go func() { _, err := q.PropagateOnce(ctx, 0); running <- err }()
		<-old.began

		rotated := newVendor("duo")
		retired, err := q.SwapPropagators([]provider.LifecyclePropagator{rotated})
		if err != nil {
			t.Fatal(err)
		}
		drained := make(chan struct{})
		go func() { retired(); close(drained) }()

		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserCreate, "bob", clk.Now().Add(-time.Minute))}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := q.PropagateOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		select {
		case <-drained:
			t.Fatal("retired returned while a propagation was still running on the replaced propagator")
		default:
		}
		close(old.release)
		if err := <-running; err != nil {
			t.Fatal(err)
		}
		<-drained
		if got, want := old.got(), []string{"user.create alice"}; !slices.Equal(got, want) {
			t.Errorf("the replaced propagator got %q, want %q (the propagation it had begun)", got, want)
		}
		if got, want := rotated.got(), []string{"user.create bob"}; !slices.Equal(got, want) {
			t.Errorf("the new propagator got %q, want %q", got, want)
		}

		for _, bad := range [][]provider.LifecyclePropagator{
			{newVendor("okta")},
			{newVendor("duo"), newVendor("okta")},
			nil,
		} {
			if _, err := q.SwapPropagators(bad); !errors.Is(err, sync.ErrTargetsChanged) {
				t.Errorf("swap to %d other propagators: %v, want ErrTargetsChanged", len(bad), err)
			}
		}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("3", provider.EventUserDisable, "bob", clk.Now().Add(-time.Second))}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if got := rotated.got(); !slices.Contains(got, "user.disable bob") {
			t.Errorf("after refused swaps, the propagator in place got %q, want bob's disable", got)
		}
	})
}
