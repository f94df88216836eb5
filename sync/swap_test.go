package sync_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
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
// only then. Propagators that name a target twice are refused, and the current ones
// stay.
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
		testwait.Recv(t, "the propagation to reach the replaced propagator", old.began)

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
		if err := testwait.Recv(t, "the propagation on the replaced propagator to end", running); err != nil {
			t.Fatal(err)
		}
		testwait.Recv(t, "retired to return once its propagation ended", drained)
		if got, want := old.got(), []string{"user.create alice"}; !slices.Equal(got, want) {
			t.Errorf("the replaced propagator got %q, want %q (the propagation it had begun)", got, want)
		}
		if got, want := rotated.got(), []string{"user.create bob"}; !slices.Equal(got, want) {
			t.Errorf("the new propagator got %q, want %q", got, want)
		}

		for _, bad := range [][]provider.LifecyclePropagator{
			{newVendor("duo"), newVendor("duo")},
			{newVendor("okta"), newVendor("duo"), newVendor("okta")},
		} {
			if _, err := q.SwapPropagators(bad); !errors.Is(err, sync.ErrTargetTwice) {
				t.Errorf("swap to %d propagators naming a target twice: %v, want ErrTargetTwice", len(bad), err)
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

// pendingTo is the propagations to target still pending, as "type user" with their
// attempts.
func pendingTo(t *testing.T, st store.Store, target string) []store.QueuedEvent {
	t.Helper()
	evs, err := st.(store.SyncQueue).ListEvents(context.Background(), store.QueueFilter{State: store.QueuePending, Source: store.PropagationSource(target)})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestSwapPropagatorsAddsAndRemoves: a reload that adds a vendor gives it the
// propagations of every event applied from then on; one that removes a vendor queues it
// nothing more, and what was still queued for it stays pending, untried, until it comes
// back, when it is carried out.
func TestSwapPropagatorsAddsAndRemoves(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		enqueue := func(id, typ, user string) {
			t.Helper()
			if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev(id, typ, user, clk.Now().Add(-time.Minute))}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
		}
		enqueue("1", provider.EventUserCreate, "alice")
		drain(t, q)

		// okta added.
		okta := newVendor("okta")
		retired, err := q.SwapPropagators([]provider.LifecyclePropagator{duo, okta})
		if err != nil {
			t.Fatalf("swap adding a vendor: %v", err)
		}
		retired()
		enqueue("2", provider.EventUserCreate, "bob")
		drain(t, q)
		if got, want := okta.got(), []string{"user.create bob"}; !slices.Equal(got, want) {
			t.Errorf("the vendor added got %q, want %q (the events applied since it was added)", got, want)
		}
		if got, want := duo.got(), []string{"user.create alice", "user.create bob"}; !slices.Equal(got, want) {
			t.Errorf("the vendor kept got %q, want %q", got, want)
		}

		// An event applied, its propagations queued, not carried yet; then duo removed.
		enqueue("3", provider.EventUserDisable, "bob")
		if _, err := q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := q.SwapPropagators([]provider.LifecyclePropagator{okta}); err != nil {
			t.Fatalf("swap removing a vendor: %v", err)
		}
		enqueue("4", provider.EventUserCreate, "carol")
		drain(t, q)
		if got, want := okta.got(), []string{"user.create bob", "user.disable bob", "user.create carol"}; !slices.Equal(got, want) {
			t.Errorf("the vendor kept got %q, want %q", got, want)
		}
		if got, want := duo.got(), []string{"user.create alice", "user.create bob"}; !slices.Equal(got, want) {
			t.Errorf("the vendor removed got %q, want %q (nothing after its removal)", got, want)
		}
		pending := pendingTo(t, st, "duo")
		if len(pending) != 1 || pending[0].Type != provider.EventUserDisable || pending[0].Attempts != 0 {
			t.Fatalf("propagations pending to the vendor removed: %+v, want bob's disable, untried", pending)
		}

		// duo back: what waited for it is carried out, and what came since reaches it.
		duo2 := newVendor("duo")
		if _, err := q.SwapPropagators([]provider.LifecyclePropagator{okta, duo2}); err != nil {
			t.Fatalf("swap adding a vendor back: %v", err)
		}
		enqueue("5", provider.EventUserDisable, "alice")
		drain(t, q)
		if got, want := duo2.got(), []string{"user.disable bob", "user.disable alice"}; !slices.Equal(got, want) {
			t.Errorf("the vendor back got %q, want %q (carol's create, applied while it was away, is not carried)", got, want)
		}
		if pending := pendingTo(t, st, "duo"); len(pending) != 0 {
			t.Errorf("propagations still pending to the vendor back: %+v", pending)
		}
	})
}

// TestSwapPropagatorsWorkers: under Run, a vendor added gets a worker of its own; one
// removed ends the propagation under way, which retired waits for, and gives back the
// rest of the batch its worker had claimed, untried, and its worker stops.
func TestSwapPropagatorsWorkers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		q.Poll = 5 * time.Millisecond
		duo := &heldVendor{vendor: newVendor("duo"), began: make(chan struct{}), release: make(chan struct{})}
		q.Propagators = []provider.LifecyclePropagator{duo}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{
			ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute)),
			ev("2", provider.EventUserCreate, "bob", clk.Now().Add(-time.Minute)),
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { q.Run(runCtx); close(stopped) }()
		released := false
		defer func() {
			if !released {
				close(duo.release)
			}
			stop()
			<-stopped
		}()
		testwait.Recv(t, "alice's propagation to reach the vendor", duo.began) // with bob's claimed in the same batch

		okta := newVendor("okta")
		retired, err := q.SwapPropagators([]provider.LifecyclePropagator{okta})
		if err != nil {
			t.Fatal(err)
		}
		drained := make(chan struct{})
		go func() { retired(); close(drained) }()
		select {
		case <-drained:
			t.Fatal("retired returned while the removed vendor's propagation was under way")
		case <-time.After(50 * time.Millisecond):
		}
		close(duo.release)
		released = true
		select {
		case <-drained:
		case <-time.After(10 * time.Second):
			t.Fatal("retired never returned after the propagation under way ended")
		}
		if got, want := duo.got(), []string{"user.create alice"}; !slices.Equal(got, want) {
			t.Errorf("the vendor removed got %q, want %q (the propagation it had begun only)", got, want)
		}
		// bob's, claimed with alice's, is given back untried once the lease is released.
		// Another replica tries to claim it only once alice's is done (pending alone), so
		// that a claim made while alice's was still being marked does not take bob's
		// from the check that follows.
		deadline := time.Now().Add(10 * time.Second)
		for {
			p := pendingTo(t, st, "duo")
			var claimed []store.QueuedEvent
			if len(p) == 1 && p[0].Attempts == 0 {
				claimed, err = st.(store.SyncQueue).ClaimPropagations(ctx, "duo", "another-replica", 10, clk.Now(), clk.Now().Add(time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				if len(claimed) == 1 && claimed[0].Type == provider.EventUserCreate && claimed[0].Attempts == 0 {
					break // not leased to the worker any more
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("propagations pending to the vendor removed: %+v, want bob's create, untried, not leased (claimed by another: %d)", p, len(claimed))
			}
			time.Sleep(5 * time.Millisecond)
		}

		// The vendor added has a worker: an event applied now reaches it.
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("3", provider.EventUserCreate, "carol", clk.Now().Add(-time.Minute))}); err != nil {
			t.Fatal(err)
		}
		for !slices.Equal(okta.got(), []string{"user.create carol"}) {
			if time.Now().After(deadline) {
				t.Fatalf("the vendor added got %q, want carol's create from its worker", okta.got())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if got := duo.got(); len(got) != 1 {
			t.Errorf("the vendor removed got %q after its removal", got)
		}
	})
}

// TestSwapPropagatorsReplicasDisagree: two replicas on one store, one reloaded with a
// vendor the other does not have yet. Each queues propagations to the vendors it has; the
// one with the vendor carries out what is queued for it, whichever replica queued it, and
// the other never claims it.
func TestSwapPropagatorsReplicasDisagree(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		a, _, clk := newQueue(t, st)
		b, _, _ := newQueue(t, st)
		oktaA, oktaB, duoA := newVendor("okta"), newVendor("okta"), newVendor("duo")
		a.Propagators = []provider.LifecyclePropagator{oktaA}
		b.Propagators = []provider.LifecyclePropagator{oktaB}
		if _, err := a.SwapPropagators([]provider.LifecyclePropagator{oktaA, duoA}); err != nil {
			t.Fatal(err)
		}
		// alice's create applied by a (queued for okta and duo), bob's by b (okta only).
		for _, c := range []struct {
			q    *sync.Queue
			id   string
			user string
		}{{a, "1", "alice"}, {b, "2", "bob"}} {
			if _, err := c.q.Enqueue(ctx, []provider.LifecycleEvent{ev(c.id, provider.EventUserCreate, c.user, clk.Now().Add(-time.Minute))}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.q.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		drain(t, b)
		drain(t, a)
		if got := append(oktaA.got(), oktaB.got()...); !slices.Contains(got, "user.create alice") || !slices.Contains(got, "user.create bob") || len(got) != 2 {
			t.Errorf("okta got %q from the two replicas, want alice's and bob's creates once each", got)
		}
		if got, want := duoA.got(), []string{"user.create alice"}; !slices.Equal(got, want) {
			t.Errorf("duo got %q, want %q (what the replica that has it queued)", got, want)
		}
		if p := pendingTo(t, st, "duo"); len(p) != 0 {
			t.Errorf("propagations to duo left pending: %+v", p)
		}
	})
}
