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

// duringPropagate is a propagator that runs during, given the call's context, before it
// reaches the vendor.
type duringPropagate struct {
	*vendor
	during func(ctx context.Context)
}

func (d *duringPropagate) Propagate(ctx context.Context, ev provider.LifecycleEvent) error {
	d.during(ctx)
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return d.vendor.Propagate(ctx, ev)
}

// A propagation that outlives its lease (a slow vendor, a list of groups paged long)
// keeps it: the worker takes it again while the vendor call runs, so no other replica
// claims the propagation and runs it beside this one. Should the lease be lost all the
// same (another worker claimed it), the propagation is stopped and left to that worker.
func TestPropagationKeepsItsLease(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		a, _, clk := newQueue(t, st)
		a.Lease = 150 * time.Millisecond // taken again every 50 ms of real time
		b, _, _ := newQueue(t, st)
		b.Now = clk.Now
		duo := newVendor("duo")
		b.Propagators = []provider.LifecyclePropagator{duo}
		// waitFor polls the queue's only pending propagation until ok, for at most 10 s.
		waitFor := func(what string, ok func(store.QueuedEvent) bool) {
			t.Helper()
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				evs, err := a.Store.ListEvents(ctx, store.QueueFilter{State: store.QueuePending})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) == 1 && ok(evs[0]) {
					return
				}
			}
			t.Fatalf("never %s", what)
		}
		var stopped error
		a.Propagators = []provider.LifecyclePropagator{&duringPropagate{vendor: duo, during: func(pctx context.Context) {
			clk.Advance(2 * time.Minute) // the claim's lease is long past
			renewed := clk.Now()
			waitFor("took the lease again", func(e store.QueuedEvent) bool { return e.UpdatedAt.Equal(renewed) })
			if n, err := b.PropagateOnce(ctx, 0); n != 0 || err != nil {
				t.Errorf("another worker claimed the propagation under way: %d, %v", n, err)
			}
			// Another worker's claim all the same (the store's clock past the lease).
			late := renewed.Add(time.Hour)
			if got, err := a.Store.ClaimPropagations(ctx, "duo", "other", 10, late, late.Add(time.Minute)); len(got) != 1 || err != nil {
				t.Fatalf("claim past the lease: %d, %v", len(got), err)
			}
			select {
			case <-pctx.Done():
				stopped = context.Cause(pctx)
			case <-time.After(10 * time.Second):
				t.Error("the propagation went on once another worker held its lease")
			}
		}}}
		if _, err := a.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute))}); err != nil {
			t.Fatal(err)
		}
		if n, err := a.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if _, err := a.PropagateOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if stopped == nil || !strings.Contains(stopped.Error(), "lease") {
			t.Errorf("propagation stopped by %v, want the lease lost", stopped)
		}
		if got := duo.got(); len(got) != 0 {
			t.Errorf("the vendor got %q from a worker without the lease", got)
		}
		// The other worker's claim stands: the stopped worker wrote no outcome over it.
		evs, err := a.Store.ListEvents(ctx, store.QueueFilter{State: store.QueuePending})
		if err != nil || len(evs) != 1 || evs[0].Attempts != 0 {
			t.Errorf("after the stop: %+v, %v", evs, err)
		}
	})
}
