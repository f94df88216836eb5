package sync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// groupsVendor is groupVendor that also takes a deleted group from its members, as DUO
// does when the group is deleted.
type groupsVendor struct{ *groupVendor }

func newGroupsVendor() groupsVendor {
	return groupsVendor{&groupVendor{vendor: newVendor("duo"), groups: map[string][]string{}}}
}

func (v groupsVendor) Propagate(ctx context.Context, ev provider.LifecycleEvent) error {
	if err := v.groupVendor.Propagate(ctx, ev); err != nil || ev.Type != provider.EventGroupDelete {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for u, gs := range v.groups {
		v.groups[u] = slices.DeleteFunc(gs, func(g string) bool { return g == ev.Group })
	}
	return nil
}

// TestOperatorMembershipAfterGroupEventOnReplicaBehind: the directory creates (or
// deletes) the group eng on a replica whose clock is right; a second later an operator, on
// a replica whose clock is 2 s behind, puts alice in eng. The operator's change is the
// later one (README: ordered "as if it were one of them, dated when emfa commits it"):
// emfa has alice in eng, and so must the vendor. Before, MarkTime dated the membership
// after the user's own marks only, not after the group's existence mark, which the
// membership's propagation is checked against: it was dropped as older than a change
// applied since, and the vendor never had alice in eng.
func TestOperatorMembershipAfterGroupEventOnReplicaBehind(t *testing.T) {
	for _, typ := range []string{provider.EventGroupCreate, provider.EventGroupDelete} {
		t.Run(typ, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				q, _, clk := newQueue(t, st)
				duo := newGroupsVendor()
				q.Propagators = []provider.LifecyclePropagator{duo}
				a := adminManager(t, q, st, clk)
				behind := &clock{t: clk.Now().Add(-2 * time.Second)}
				b := adminManager(t, q, st, behind)
				if _, err := a.CreateUser(ctx, "ops", lifecycle.UserInput{Name: "alice"}); err != nil {
					t.Fatal(err)
				}
				if typ == provider.EventGroupDelete {
					if _, err := a.UpdateUser(ctx, "ops", "alice", lifecycle.UserInput{Groups: &[]string{"eng"}}); err != nil {
						t.Fatal(err)
					}
				}
				drain(t, q)
				tick := func(d time.Duration) { clk.Advance(d); behind.Advance(d) }

				tick(time.Minute)
				g := ev("d1", typ, "", clk.Now())
				g.Group = "eng"
				if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{g}); err != nil {
					t.Fatal(err)
				}
				drain(t, q)

				tick(time.Second)
				if _, err := b.UpdateUser(ctx, "ops2", "alice", lifecycle.UserInput{Groups: &[]string{"eng"}}); err != nil {
					t.Fatal(err)
				}
				drain(t, q)
				u, err := a.GetUser(ctx, "alice")
				if err != nil || !slices.Equal(u.Groups, []string{"eng"}) {
					t.Fatalf("alice in emfa: %v, %v; want in eng", u.Groups, err)
				}
				duo.mu.Lock()
				defer duo.mu.Unlock()
				if got := duo.groups["alice"]; !slices.Equal(got, []string{"eng"}) {
					t.Errorf("alice's groups at the vendor: %q, want [eng] as in emfa (calls %q)", got, duo.calls)
				}
			})
		})
	}
}

// namedGroups is a vendor that finds groups by name, as DUO's admin API does (see
// testdata/config/duo-admin.yaml): a member's add creates the group when no group has the
// name, a removal from a group it does not have does nothing, a rename renames the group
// of the old name.
type namedGroups struct {
	*vendor
	groups map[string][]string // group name → members
}

func (v *namedGroups) Propagate(ctx context.Context, ev provider.LifecycleEvent) error {
	if err := v.vendor.Propagate(ctx, ev); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch ev.Type {
	case provider.EventGroupMemberAdd:
		if !slices.Contains(v.groups[ev.Group], ev.Username) {
			v.groups[ev.Group] = append(v.groups[ev.Group], ev.Username)
		}
	case provider.EventGroupMemberRemove:
		if m, ok := v.groups[ev.Group]; ok {
			v.groups[ev.Group] = slices.DeleteFunc(m, func(u string) bool { return u == ev.Username })
		}
	case provider.EventGroupRename:
		if _, taken := v.groups[ev.NewGroup]; taken {
			return errors.New("vendor answered 409: a group of the new name exists")
		}
		if m, ok := v.groups[ev.Group]; ok {
			delete(v.groups, ev.Group)
			v.groups[ev.NewGroup] = m
		}
	case provider.EventGroupDelete:
		delete(v.groups, ev.Group)
	}
	return nil
}

// TestDeadMembershipRetriedAfterRenamePurged: a member add whose propagation to the
// vendor became a dead letter, then its group renamed (propagated), then the queue's
// purge of done events (KeepDone, 7 days) run before an operator retries the dead letter.
// The retried add must go under the name the group has at the vendor now, as it does
// while the rename's row is kept (c9edeac). Before, the purge deleted the rename's done
// row, the only record the retry follows, so the add went under the old name and created
// a group of it at the vendor for alice alone: she stayed out of the renamed group.
func TestDeadMembershipRetriedAfterRenamePurged(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		duo := &namedGroups{vendor: newVendor("duo"), groups: map[string][]string{}}
		q, _, clk := onceQueue(t, st, duo)
		at := clk.Now().Add(-time.Minute)
		deadAddThenRename(t, q, duo, at)

		// Eight days on, the purge (as the worker runs it) before the operator retries.
		clk.Advance(8 * 24 * time.Hour)
		if _, err := q.Store.DeleteDoneEvents(ctx, clk.Now().Add(-7*24*time.Hour), 10000); err != nil {
			t.Fatal(err)
		}
		if n, err := q.RetryDead(ctx, "ops", 0); err != nil || n != 1 {
			t.Fatalf("RetryDead = %d, %v; want the membership's dead letter", n, err)
		}
		drain(t, q)
		duo.mu.Lock()
		defer duo.mu.Unlock()
		if got := duo.groups["Platform"]; !slices.Contains(got, "alice") || !slices.Contains(got, "bob") {
			t.Errorf("at the vendor Platform has %q, want alice and bob (groups %q)", got, duo.groups)
		}
		if m, ok := duo.groups["Eng"]; ok {
			t.Errorf("the vendor has a group Eng again, of %q", m)
		}

		// The dead letter gone, the next purge takes the rename's row.
		clk.Advance(8 * 24 * time.Hour)
		if _, err := q.Store.DeleteDoneEvents(ctx, clk.Now().Add(-7*24*time.Hour), 10000); err != nil {
			t.Fatal(err)
		}
		if left, err := q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueueDone, Limit: 1000}); err != nil || len(left) != 0 {
			t.Errorf("done events left by the purge once the dead letter is gone: %d, %v", len(left), err)
		}
	})
}

// TestGroupAheadPastAThousand: a member added under a group's new name waits for
// the rename's older propagation, pending after a failure (1530c29), however many
// propagations of other groups wait before it. With a thousand group creates pending at
// the vendor ahead of the rename, groupAhead read the first thousand pending group
// propagations alone, found none naming Platform, and let the add go first: it created
// Platform at the vendor for alice alone, and the rename's retry then failed on the name
// taken, so bob stayed in Eng, two groups where the directory has one.
func TestGroupAheadPastAThousand(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := &namedGroups{vendor: newVendor("duo"), groups: map[string][]string{}}
		q.Propagators = []provider.LifecyclePropagator{duo}
		at := clk.Now().Add(-time.Hour)
		member := func(id, typ, user, group string, d time.Duration) provider.LifecycleEvent {
			e := ev(id, typ, user, at.Add(d))
			e.Group = group
			return e
		}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", at),
			ev("2", provider.EventUserCreate, "bob", at), member("3", provider.EventGroupMemberAdd, "bob", "Eng", time.Second)}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)

		// A thousand propagations of other groups' creates wait before Eng's rename (the
		// vendor failed them, and they wait for their retries: queued here by a clock as far
		// ahead as the queue waits for, so that they are not due until the clock moves on),
		// then the rename fails once.
		var backlog []store.QueuedEvent
		for i := range 1000 {
			c := member(fmt.Sprintf("c%04d", i), provider.EventGroupCreate, "", fmt.Sprintf("g%04d", i), 2*time.Second)
			rows, err := q.Propagations(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			backlog = append(backlog, rows...)
		}
		if n, err := q.Store.EnqueueEvents(ctx, backlog, clk.Now().Add(sync.MaxFutureSkew)); err != nil || n != 1000 {
			t.Fatalf("the backlog: %d, %v", n, err)
		}
		duo.failing(provider.EventGroupRename, true)
		rename := member("5", provider.EventGroupRename, "", "Eng", 3*time.Second)
		rename.NewGroup = "Platform"
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{rename}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)

		// alice is added under the new name: she waits for the rename.
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{member("6", provider.EventGroupMemberAdd, "alice", "Platform", 4*time.Second)}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		duo.failing(provider.EventGroupRename, false)
		for range 3 {
			clk.Advance(time.Hour)
			drain(t, q)
		}
		duo.mu.Lock()
		defer duo.mu.Unlock()
		if got := duo.groups["Platform"]; !slices.Contains(got, "alice") || !slices.Contains(got, "bob") {
			t.Errorf("at the vendor Platform has %q, want alice and bob; Eng has %q", got, duo.groups["Eng"])
		}
		if m, ok := duo.groups["Eng"]; ok {
			t.Errorf("the vendor still has Eng, of %q", m)
		}
	})
}

// deadAddThenRename has the queue q create alice and bob, put bob in Eng, fail alice's
// add to Eng at duo (a dead letter: q.MaxAttempts 1), then rename Eng to Platform, the
// events dated from at on.
func deadAddThenRename(t *testing.T, q *sync.Queue, duo *namedGroups, at time.Time) {
	t.Helper()
	ctx := context.Background()
	member := func(id, typ, user, group string, d time.Duration) provider.LifecycleEvent {
		e := ev(id, typ, user, at.Add(d))
		e.Group = group
		return e
	}
	if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", at),
		ev("2", provider.EventUserCreate, "bob", at), member("3", provider.EventGroupMemberAdd, "bob", "Eng", time.Second)}); err != nil {
		t.Fatal(err)
	}
	drain(t, q)
	duo.failing(provider.EventGroupMemberAdd, true)
	if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{member("4", provider.EventGroupMemberAdd, "alice", "Eng", 2*time.Second)}); err != nil {
		t.Fatal(err)
	}
	drain(t, q)
	duo.failing(provider.EventGroupMemberAdd, false)
	rename := member("5", provider.EventGroupRename, "", "Eng", 3*time.Second)
	rename.NewGroup = "Platform"
	if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{rename}); err != nil {
		t.Fatal(err)
	}
	drain(t, q)
}
