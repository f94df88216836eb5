package sync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// sharedClock is a store whose clock every replica shares (PostgreSQL's) and to which
// this replica's clock is ahead by ahead: as the store measures it (store.SharedClock).
type sharedClock struct {
	store.SyncQueue
	ahead time.Duration
}

func (s sharedClock) CheckClock(context.Context) error { return nil }
func (s sharedClock) ClockAhead() time.Duration        { return s.ahead }

// replicaAhead is two replicas of one queue on a PostgreSQL store, propagating to duo:
// right, whose clock is the database's, and ahead, whose clock is 10 minutes ahead of it
// (and which the store measured so); clk is right's clock, which ahead's follows.
func replicaAhead(t *testing.T) (right, ahead *sync.Queue, duo *vendor, clk *clock) {
	right, ahead, duo, clk, _ = replicaAheadBy(t, skew)
	return right, ahead, duo, clk
}

// replicaAheadBy is replicaAhead with the replica ahead by skew, and their store.
func replicaAheadBy(t *testing.T, skew time.Duration) (right, ahead *sync.Queue, duo *vendor, clk *clock, st store.Store) {
	t.Helper()
	st = testdb.Postgres(t)
	right, _, clk = newQueue(t, st)
	duo = newVendor("duo")
	right.Propagators = []provider.LifecyclePropagator{duo}
	sq := right.Store
	right.Store = sharedClock{SyncQueue: sq}
	right.Owner = "right"
	ahead = (&sync.Queue{Store: sharedClock{SyncQueue: sq, ahead: skew}, Applier: right.Applier,
		Now: func() time.Time { return clk.Now().Add(skew) }, Owner: "ahead",
		Propagators: []provider.LifecyclePropagator{duo}}).Init()
	return right, ahead, duo, clk, st
}

// killed is a propagator whose process is killed as it calls the vendor: it says it
// began, and fails (reaching nothing) once kill is closed.
type killed struct {
	*vendor
	began, kill chan struct{}
}

func (k killed) Propagate(context.Context, provider.LifecycleEvent) error {
	close(k.began)
	<-k.kill
	return errors.New("killed")
}

// skew is how far the replica ahead's clock is ahead.
const skew = 10 * time.Minute

// heldFor advances clk a second at a time until through, and returns how long that took
// (at most limit: then it fails the test).
func heldFor(t *testing.T, clk *clock, limit time.Duration, through func() bool) time.Duration {
	t.Helper()
	for d := time.Duration(0); d <= limit; d += time.Second {
		if through() {
			return d
		}
		clk.Advance(time.Second)
	}
	t.Fatalf("still held after %s", limit)
	return 0
}

// created queues and applies alice's creation on q: her propagation to duo waits.
func created(t *testing.T, q *sync.Queue, clk *clock) {
	t.Helper()
	if _, err := q.Enqueue(context.Background(), []provider.LifecycleEvent{ev("c", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// sent says whether duo was sent alice's creation, after a turn of q's worker of it.
func sent(t *testing.T, q *sync.Queue, duo *vendor) bool {
	t.Helper()
	if _, err := q.PropagateOnce(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	return len(duo.got()) > 0
}

// TestReplicaAheadHoldsNoOne: on PostgreSQL, a replica whose clock is 10 minutes ahead
// of the others' (and of the database's) writes the sync queue's times (a lease, a
// backoff, a vendor's hold, the wait for a user's create) by the database's clock, as
// the store measured its own against it (store.SharedClock), so that the other replicas,
// comparing them with theirs, neither wait its 10 minutes nor take what it holds.
// Before, each was its clock's: a 2 s backoff after a vendor's failure held the other
// replicas 10 minutes, and so did a vendor's 429 (the shared hold) and a worker killed
// with a lease; a lease another replica held was taken by the replica ahead at once, its
// propagation sent to the vendor twice; a membership that came before its user's create
// was skipped by the replica ahead at once, not after sync.UserWait (lost when the create
// came a minute late).
func TestReplicaAheadHoldsNoOne(t *testing.T) {
	ctx := context.Background()
	t.Run("backoff", func(t *testing.T) {
		right, ahead, duo, clk := replicaAhead(t)
		created(t, right, clk)
		duo.failing(provider.EventUserCreate, true)
		if sent(t, ahead, duo) {
			t.Fatal("the failing vendor took it")
		}
		duo.failing(provider.EventUserCreate, false)
		if d := heldFor(t, clk, time.Hour, func() bool { return sent(t, right, duo) }); d > 2*time.Second {
			t.Errorf("after the replica ahead's 2 s backoff, the other sent it %s later", d)
		}
	})
	t.Run("vendor's hold", func(t *testing.T) {
		right, ahead, _, clk := replicaAhead(t)
		lim := &limitedVendor{limited: true}
		right.Propagators = []provider.LifecyclePropagator{lim}
		ahead.Propagators = right.Propagators
		created(t, right, clk)
		if _, err := ahead.PropagateOnce(ctx, 0); err != nil || lim.calls != 1 {
			t.Fatalf("the replica ahead: %d calls, %v", lim.calls, err)
		}
		lim.mu.Lock()
		lim.limited = false
		lim.mu.Unlock()
		d := heldFor(t, clk, time.Hour, func() bool {
			if _, err := right.PropagateOnce(ctx, 0); err != nil {
				t.Fatal(err)
			}
			return len(lim.done) > 0
		})
		if d > 2*time.Second {
			t.Errorf("after the replica ahead's 429 (a 2 s wait), the other sent the vendor nothing for %s", d)
		}
	})
	t.Run("lease held by the other", func(t *testing.T) {
		right, ahead, duo, clk := replicaAhead(t)
		created(t, right, clk)
		// right claims it, and is sending it.
		now := clk.Now()
		if got, err := right.Store.ClaimPropagations(ctx, "duo", right.Owner, 1, now, now.Add(right.Lease)); err != nil || len(got) != 1 {
			t.Fatalf("claimed %d, %v", len(got), err)
		}
		if sent(t, ahead, duo) {
			t.Errorf("the replica ahead took a lease the other holds, and sent the vendor what the other is sending")
		}
	})
	t.Run("lease of a worker killed", func(t *testing.T) {
		right, ahead, duo, clk := replicaAhead(t)
		created(t, right, clk)
		// The replica ahead claims it and is killed while it sends it: its call never
		// reaches the vendor.
		began, kill := make(chan struct{}), make(chan struct{})
		ahead.Propagators = []provider.LifecyclePropagator{killed{duo, began, kill}}
		done := make(chan error, 1)
		kctx, stop := context.WithCancel(ctx)
		go func() { _, err := ahead.PropagateOnce(kctx, 0); done <- err }()
		<-began
		stop() // killed: it takes its lease again no more
		d := heldFor(t, clk, time.Hour, func() bool { return sent(t, right, duo) })
		close(kill)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if d > right.Lease {
			t.Errorf("the replica ahead killed with a lease of %s held its propagation from the other %s", right.Lease, d)
		}
		if got := duo.got(); len(got) != 1 {
			t.Errorf("the vendor was sent %q, want alice's creation once", got)
		}
	})
	t.Run("operator's change on the replica ahead", func(t *testing.T) {
		// Ahead by less than store.MaxFutureSkew, by which the claim takes a row queued
		// further ahead as due at once.
		right, ahead, duo, clk, st := replicaAheadBy(t, 3*time.Minute)
		created(t, right, clk)
		drain(t, right)
		aclk := &clock{t: ahead.Now()}
		if _, err := adminManager(t, ahead, st, aclk).SetUserState(ctx, "ops", "alice", true); err != nil {
			t.Fatal(err)
		}
		for _, q := range []*sync.Queue{right, ahead} {
			if _, err := q.PropagateOnce(ctx, 0); err != nil {
				t.Fatal(err)
			}
		}
		if got := duo.state("alice"); got != "disabled" {
			t.Errorf("the operator's disable made on the replica 3 minutes ahead: the vendor has alice %s at once, want disabled", got)
		}
	})
	for _, enq := range []string{"right", "ahead"} {
		t.Run("user's create awaited, queued by "+enq, func(t *testing.T) {
			right, ahead, _, clk := replicaAhead(t)
			queuer, worker := right, ahead
			if enq == "ahead" {
				queuer, worker = ahead, right
			}
			add := ev("m", provider.EventGroupMemberAdd, "bob", clk.Now().Add(-time.Minute))
			add.Group = "eng"
			if _, err := queuer.Enqueue(ctx, []provider.LifecycleEvent{add}); err != nil {
				t.Fatal(err)
			}
			d := heldFor(t, clk, time.Hour, func() bool {
				if _, err := worker.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				evs, err := worker.Store.ListEvents(ctx, store.QueueFilter{Source: "okta", State: store.QueuePending})
				if err != nil {
					t.Fatal(err)
				}
				return len(evs) == 0
			})
			if d < sync.UserWait || d > sync.UserWait+time.Second {
				t.Errorf("a membership of a user not created yet waited %s for the create, want %s", d, sync.UserWait)
			}
		})
	}
}

// TestSCIMChangeAfterOperatorsOnReplicaAhead: on a replica whose clock is 10 minutes
// ahead of the database's, an operator disables a user (dated, and marked, by this
// process's clock), and a minute later a SCIM client enables it through the same replica.
// The enable is dated on receipt after the disable's mark (MarkTime), and is applied: emfa
// and the vendor end with the user active. Before, the receipt's time, later than the
// queue's clock (the database's) by more than sync.MaxFutureSkew, was taken as a source's
// time in the future and dated back to the queue's clock, before the disable: the enable
// was skipped as older, and the SCIM client told it was done.
func TestSCIMChangeAfterOperatorsOnReplicaAhead(t *testing.T) {
	ctx := context.Background()
	right, ahead, duo, clk, st := replicaAheadBy(t, skew)
	created(t, right, clk)
	drain(t, right)
	aclk := &clock{t: ahead.Now()}
	m := adminManager(t, ahead, st, aclk)
	if _, err := m.SetUserState(ctx, "ops", "alice", true); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := ahead.ApplyNow(ctx, provider.LifecycleEvent{ID: "s1", Type: provider.EventUserEnable, Source: "scim", Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	drain(t, right)
	if got := userState(t, m, "alice"); got != lifecycle.StateActive {
		t.Errorf("the SCIM enable a minute after the operator's disable, on the replica 10 minutes ahead: emfa has alice %s, want %s", got, lifecycle.StateActive)
	}
	if got := duo.state("alice"); got != "active" {
		t.Errorf("the vendor has alice %s after the later enable, want active (calls %q)", got, duo.got())
	}
}

// TestUndatedEventAfterOperatorsOnReplicaAhead: a directory's event that gives no time
// of its own (a Verify notification whose time is null) is dated on receipt after the
// mark of what it changes (MarkTime), as a SCIM change is. On a replica whose clock is 3
// minutes ahead of the database's (within sync.MaxFutureSkew: nothing warns of it), an
// operator disables a user, and a minute later the directory's enable of it, undated,
// reaches the same replica: emfa and the vendor end with the user active. Before, the
// enable was dated by the queue's clock (the database's), 2 minutes before the disable's
// mark by this process's clock, and skipped as older.
func TestUndatedEventAfterOperatorsOnReplicaAhead(t *testing.T) {
	ctx := context.Background()
	right, ahead, duo, clk, st := replicaAheadBy(t, 3*time.Minute)
	created(t, right, clk)
	drain(t, right)
	aclk := &clock{t: ahead.Now()}
	m := adminManager(t, ahead, st, aclk)
	if _, err := m.SetUserState(ctx, "ops", "alice", true); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, err := ahead.Enqueue(ctx, []provider.LifecycleEvent{ev("e", provider.EventUserEnable, "alice", time.Time{})}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second) // past sync's settle
	drain(t, right)
	if got := userState(t, m, "alice"); got != lifecycle.StateActive {
		t.Errorf("the directory's undated enable a minute after the operator's disable, on the replica 3 minutes ahead: emfa has alice %s, want %s", got, lifecycle.StateActive)
	}
	if got := duo.state("alice"); got != "active" {
		t.Errorf("the vendor has alice %s after the later enable, want active (calls %q)", got, duo.got())
	}
}
