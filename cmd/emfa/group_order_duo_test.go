package main

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duoadminfake"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// queueClock is the queue's clock: moved by the test alone.
type queueClock struct{ t time.Time }

func (c *queueClock) Now() time.Time { return c.t }

// duoQueue is a sync queue on SQLite whose only propagator is the remote engine of
// testdata/config/duo-admin.yaml against a DUO Admin API fake, on a clock of its own.
func duoQueue(t *testing.T, st store.Store) (*sync.Queue, *duoadminfake.Server, *queueClock) {
	t.Helper()
	e, duo, _ := lifecycleDUO(t)
	clk := &queueClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	sq := st.(store.SyncQueue)
	q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq, Now: clk.Now}, Now: clk.Now,
		Propagators: []provider.LifecyclePropagator{e}}).Init()
	return q, duo, clk
}

// eventsFrom makes events dated sec seconds after t0: at("3", type, user, group, 2).
func eventsFrom(t0 time.Time) func(id, typ, user, group string, sec int) provider.LifecycleEvent {
	return func(id, typ, user, group string, sec int) provider.LifecycleEvent {
		return provider.LifecycleEvent{ID: id, Type: typ, Time: t0.Add(time.Duration(sec) * time.Second), Username: user, Group: group}
	}
}

// deliverOkta queues evs as Okta's, then works the queue until nothing is due.
func deliverOkta(t *testing.T, q *sync.Queue, evs ...provider.LifecycleEvent) {
	t.Helper()
	ctx := context.Background()
	for i := range evs {
		evs[i].Source = "okta"
	}
	if len(evs) > 0 {
		if _, err := q.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// duoGroupsOf is the names and ids of user's groups at DUO.
func duoGroupsOf(t *testing.T, duo *duoadminfake.Server, user string) []duoadminfake.Group {
	t.Helper()
	u, ok := duo.User(user)
	if !ok {
		t.Fatalf("%s is not in DUO", user)
	}
	return u.Groups
}

// A group renamed in the directory, then a member added under its new name: the rename's
// propagation failed once at DUO (a 500 on its look-up) and waited for its retry, while the
// add's, of another user, went ahead. The add looked the new name up, found nothing, and
// created a second group; the rename's retry then renamed the old group to the same name.
// DUO must end with one group of the new name, holding the old member and the new one.
func TestRenameThenAddIsOneGroupAtDUO(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) { renameThenAdd(t, st) })
}

func renameThenAdd(t *testing.T, st store.Store) {
	q, duo, clk := duoQueue(t, st)
	at := eventsFrom(clk.Now().Add(-time.Minute))
	deliverOkta(t, q, at("1", provider.EventUserCreate, "alice", "", 0), at("2", provider.EventUserCreate, "bob", "", 1),
		at("3", provider.EventGroupMemberAdd, "alice", "Eng", 2))
	if gs := duoGroupsOf(t, duo, "alice"); len(gs) != 1 || gs[0].Name != "Eng" {
		t.Fatalf("alice's groups at DUO before the rename: %+v", gs)
	}

	duo.FailNext("/admin/v1/groups", 500) // the rename's look-up
	rename := at("4", provider.EventGroupRename, "", "Eng", 3)
	rename.NewGroup = "Platform"
	deliverOkta(t, q, rename, at("5", provider.EventGroupMemberAdd, "bob", "Platform", 4))
	clk.t = clk.t.Add(time.Hour)
	deliverOkta(t, q)

	a, b := duoGroupsOf(t, duo, "alice"), duoGroupsOf(t, duo, "bob")
	if len(a) != 1 || len(b) != 1 || a[0].GroupID != b[0].GroupID || a[0].Name != "Platform" {
		t.Fatalf("after rename and add, alice is in %+v and bob in %+v at DUO; want both in one group Platform", a, b)
	}
	if _, ok := duo.Group("Eng"); ok {
		t.Error("DUO still has Eng")
	}
}

// The other orders a rename makes with its group's events under another key, each with the
// rename's propagation failing once at DUO: a delete under the new name, a rename back,
// and a second rename. Each must reach DUO as the directory made them, in their order.
func TestGroupRenamesInOrderAtDUO(t *testing.T) {
	rename := func(id, from, to string, sec int) provider.LifecycleEvent {
		return provider.LifecycleEvent{ID: id, Type: provider.EventGroupRename, Group: from, NewGroup: to,
			Time: time.Date(2026, 5, 1, 8, 59, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second)}
	}
	del := rename("9", "Platform", "", 5)
	del.Type = provider.EventGroupDelete
	for _, tc := range []struct {
		name  string
		then  []provider.LifecycleEvent // after the rename of Eng to Platform
		group string                    // alice's group at DUO after them; "" none
		gone  []string                  // names DUO has no group of
	}{
		{"then deleted", []provider.LifecycleEvent{del}, "", []string{"Eng", "Platform"}},
		{"renamed back", []provider.LifecycleEvent{rename("5", "Platform", "Eng", 5)}, "Eng", []string{"Platform"}},
		{"renamed again", []provider.LifecycleEvent{rename("5", "Platform", "Infra", 5)}, "Infra", []string{"Eng", "Platform"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				q, duo, clk := duoQueue(t, st)
				t0 := clk.Now().Add(-time.Minute)
				add := provider.LifecycleEvent{ID: "2", Type: provider.EventGroupMemberAdd, Time: t0.Add(time.Second), Username: "alice", Group: "Eng"}
				deliverOkta(t, q, provider.LifecycleEvent{ID: "1", Type: provider.EventUserCreate, Time: t0, Username: "alice"}, add)
				duo.FailNext("/admin/v1/groups", 500) // the first rename's look-up
				deliverOkta(t, q, append([]provider.LifecycleEvent{rename("4", "Eng", "Platform", 3)}, tc.then...)...)
				clk.t = clk.t.Add(time.Hour)
				deliverOkta(t, q)

				gs := duoGroupsOf(t, duo, "alice")
				if tc.group == "" && len(gs) != 0 || tc.group != "" && (len(gs) != 1 || gs[0].Name != tc.group) {
					t.Errorf("alice's groups at DUO: %+v, want %q", gs, tc.group)
				}
				for _, n := range tc.gone {
					if g, ok := duo.Group(n); ok {
						t.Errorf("DUO has a group %s: %+v", n, g)
					}
				}
			})
		})
	}
}

// A member added to a group, then the group renamed: the add's propagation failed once at
// DUO and waited for its retry, while the rename, keyed by the group, went ahead. The add's
// retry then looked up the old name, found nothing, and created a group of the old name
// for the member alone. DUO must end with the member in the renamed group, and no group of
// the old name.
func TestAddThenRenameIsOneGroupAtDUO(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		q, duo, clk := duoQueue(t, st)
		at := eventsFrom(clk.Now().Add(-time.Minute))
		deliverOkta(t, q, at("1", provider.EventUserCreate, "alice", "", 0), at("2", provider.EventUserCreate, "bob", "", 1),
			at("3", provider.EventGroupMemberAdd, "bob", "Eng", 2))

		duo.FailNext("/admin/v1/groups", 500) // the add's look-up
		rename := at("5", provider.EventGroupRename, "", "Eng", 4)
		rename.NewGroup = "Platform"
		deliverOkta(t, q, at("4", provider.EventGroupMemberAdd, "alice", "Eng", 3), rename)
		clk.t = clk.t.Add(time.Hour)
		deliverOkta(t, q)

		a, b := duoGroupsOf(t, duo, "alice"), duoGroupsOf(t, duo, "bob")
		if len(a) != 1 || len(b) != 1 || a[0].GroupID != b[0].GroupID || a[0].Name != "Platform" {
			t.Fatalf("after add and rename, alice is in %+v and bob in %+v at DUO; want both in one group Platform", a, b)
		}
		if g, ok := duo.Group("Eng"); ok {
			t.Errorf("DUO has a group Eng: %+v", g)
		}
	})
}
