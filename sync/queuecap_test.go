package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// propagator is what the backlogs ask of the queue: the propagations of an event.
type propagator interface {
	Propagations(context.Context, provider.LifecycleEvent) ([]store.QueuedEvent, error)
}

// updateBacklog puts n propagations to duo of user's updates (ids prefix0000 on), dated
// before at, straight into the queue, pending.
func updateBacklog(t *testing.T, q propagator, sq store.SyncQueue, prefix, user string, at time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	var rows []store.QueuedEvent
	for i := range n {
		u := ev(fmt.Sprintf("%s%04d", prefix, i), provider.EventUserUpdate, user, at.Add(-time.Duration(n-i)*time.Millisecond))
		u.DisplayName = str("x")
		r, err := q.Propagations(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	if got, err := sq.EnqueueEvents(ctx, rows, at); err != nil || got != n {
		t.Fatalf("the backlog: %d, %v", got, err)
	}
}

// doneBacklog puts n propagations to duo of user's updates, dated before at, straight into
// the queue, done (dropped: the queue keeps done rows 7 days, however they finished).
func doneBacklog(t *testing.T, q propagator, sq store.SyncQueue, user string, at time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	updateBacklog(t, q, sq, "old", user, at, n)
	got, err := sq.DropPending(ctx, store.PropagationSource("duo"), "done: ", at, func(int) store.AuditEvent {
		return store.AuditEvent{Time: at, Actor: "test", Resource: "sync.drop", Outcome: "SUCCESS"}
	})
	if err != nil || got != n {
		t.Fatalf("the backlog done: %d, %v", got, err)
	}
}

// TestDeadCreateRetriedPastAThousandDone: TestDeadCreateRetriedAfterMembership with
// a thousand older propagations of the user done and kept (the queue keeps done rows 7
// days). overtaken read the first thousand done propagations of the user's key by seq,
// all older than the create, so it did not see the membership propagated (and skipped by
// the vendor) while the create was a dead letter: the retried create went without the
// user's groups, and the vendor never had dan in eng.
func TestDeadCreateRetriedPastAThousandDone(t *testing.T) { testDeadCreateRetried(t, 1000) }

// deadBacklog puts n propagations to duo of user's updates, dated before at, straight into
// the queue, and makes them dead letters (each claimed in turn, as the vendor failed it).
func deadBacklog(t *testing.T, q propagator, sq store.SyncQueue, user string, at time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	updateBacklog(t, q, sq, "bad", user, at, n)
	for range n {
		c, err := sq.ClaimPropagations(ctx, "duo", "test", 1, at, at.Add(time.Minute))
		if err != nil || len(c) != 1 {
			t.Fatalf("claim: %d, %v", len(c), err)
		}
		if err := sq.FinishEvent(ctx, c[0].Seq, "test", store.QueueDead, "vendor answered 400", false, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRehireAfterDeadDeletePastAThousandDead: TestRehireAfterDeadDelete with a
// thousand older dead letters of the user (a vendor that refused its updates). The check
// read the first thousand dead propagations of the user's key by seq and did not find the
// dead deletion past them: the new user's create went to the vendor, which gave it the
// old account, with its phone and devices.
func TestRehireAfterDeadDeletePastAThousandDead(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		duo := newVendor("duo")
		q, m, clk := onceQueue(t, st, duo)
		t0 := clk.Now().Add(-time.Hour)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "rob", t0)})
		drain(t, q)
		deadBacklog(t, q, q.Store, "rob", t0.Add(30*time.Second), 1000)
		duo.failing(provider.EventUserDelete, true)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserDelete, "rob", t0.Add(time.Minute))})
		drain(t, q)
		duo.failing(provider.EventUserDelete, false)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("3", provider.EventUserCreate, "rob", t0.Add(2*time.Minute))})
		drain(t, q)
		if s := userState(t, m, "rob"); s != "active" {
			t.Fatalf("rob is %s in emfa", s)
		}
		if got := duo.got(); len(got) != 1 {
			t.Errorf("the vendor got %q, want the first create alone (the new rob's create a dead letter)", got)
		}
	})
}

// TestDeadMembershipRetriedPastAThousandRenames: a member add dead-lettered, its
// group renamed since, the dead letter retried: the add goes under the new name
// (renamedSince) however many older renames of the group's name are kept done (the purge
// keeps a rename while an older membership of its vendor is dead or pending). It read the
// first thousand done renames of the name by seq, all older than the add: the add went
// under the old name and created it anew at the vendor for alice alone.
func TestDeadMembershipRetriedPastAThousandRenames(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		duo := &namedGroups{vendor: newVendor("duo"), groups: map[string][]string{}}
		q, _, clk := onceQueue(t, st, duo)
		at := clk.Now().Add(-time.Minute)
		member := func(id, typ, user, group string, d time.Duration) provider.LifecycleEvent {
			e := ev(id, typ, user, at.Add(d))
			e.Group = group
			return e
		}
		var old []store.QueuedEvent
		for i := range 1000 {
			r := member(fmt.Sprintf("r%04d", i), provider.EventGroupRename, "", "Eng", -time.Duration(1000-i)*time.Millisecond)
			r.NewGroup = fmt.Sprintf("Eng%04d", i)
			rows, err := q.Propagations(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			old = append(old, rows...)
		}
		if n, err := q.Store.EnqueueEvents(ctx, old, at); err != nil || n != 1000 {
			t.Fatalf("the old renames: %d, %v", n, err)
		}
		if n, err := q.Store.DropPending(ctx, store.PropagationSource("duo"), "done: ", at, func(int) store.AuditEvent {
			return store.AuditEvent{Time: at, Actor: "test", Resource: "sync.drop", Outcome: "SUCCESS"}
		}); err != nil || n != 1000 {
			t.Fatalf("the old renames done: %d, %v", n, err)
		}

		deadAddThenRename(t, q, duo, at)
		if n, err := q.RetryDead(ctx, "ops", 0); err != nil || n != 1 {
			t.Fatalf("RetryDead = %d, %v; want the membership's dead letter", n, err)
		}
		drain(t, q)
		duo.mu.Lock()
		defer duo.mu.Unlock()
		if got := duo.groups["Platform"]; !slices.Contains(got, "alice") || !slices.Contains(got, "bob") {
			t.Errorf("at the vendor Platform has %q, want alice and bob", got)
		}
		if m, ok := duo.groups["Eng"]; ok {
			t.Errorf("the vendor has a group Eng again, of %q", m)
		}
	})
}

// TestResetFoldedPastAThousandPending: Okta sends a reset per factor of one reset;
// the first is one with a later reset of the user waiting behind it (laterReset), however
// many of the user's events wait between them. laterReset read the first thousand pending
// events of the user's key by seq and missed the later reset past them: the first was
// applied and propagated, and the later one reset the user at the vendor again.
func TestResetFoldedPastAThousandPending(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		at := clk.Now().Add(-time.Hour)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("c", provider.EventUserCreate, "alice", at)}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("r1", provider.EventUserMFAReset, "alice", at.Add(time.Second))}); err != nil {
			t.Fatal(err)
		}
		// A thousand of alice's updates between the two resets, not yet due (queued by a
		// clock as far ahead as the queue waits for, so that the test does not apply them),
		// then the second reset.
		var rows []store.QueuedEvent
		for i := range 1000 {
			u := ev(fmt.Sprintf("u%04d", i), provider.EventUserUpdate, "alice", at.Add(time.Second+time.Duration(i+1)*time.Millisecond))
			u.DisplayName = str("A")
			body, err := json.Marshal(u)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, store.QueuedEvent{Source: u.Source, EventID: u.ID, Key: "user:alice", Type: u.Type, Time: u.Time, Body: body})
		}
		if n, err := q.Store.EnqueueEvents(ctx, rows, clk.Now().Add(sync.MaxFutureSkew)); err != nil || n != 1000 {
			t.Fatalf("the updates: %d, %v", n, err)
		}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("r2", provider.EventUserMFAReset, "alice", at.Add(2*time.Second))}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if got := duo.got(); slices.Contains(got, provider.EventUserMFAReset+" alice") {
			t.Errorf("the vendor got %q: the first reset propagated, though a later one waits to reset all it would", got)
		}
	})
}
