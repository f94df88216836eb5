package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A group renamed in the directory whose propagation to DUO became a dead letter (one
// attempt allowed, DUO failing it) holds nothing back: a member added under the new name
// then created a group of that name at DUO. When the operator retried the dead letter, the
// rename gave the old group the same name: two groups of one name at DUO, the old members
// in one, the new member in the other, and nothing said so. The retried rename must leave
// DUO with one group of the new name and stay a dead letter whose error says what to do.
func TestDeadRenameRetriedIsNotTwoGroupsAtDUO(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, duo, clk := duoQueue(t, st)
		q.MaxAttempts = 1
		at := eventsFrom(clk.Now().Add(-time.Minute))
		deliverOkta(t, q, at("1", provider.EventUserCreate, "alice", "", 0), at("2", provider.EventUserCreate, "bob", "", 1),
			at("3", provider.EventGroupMemberAdd, "alice", "Eng", 2))

		duo.FailNext("/admin/v1/groups", 500) // the rename's look-up: its one attempt
		rename := at("4", provider.EventGroupRename, "", "Eng", 3)
		rename.NewGroup = "Platform"
		deliverOkta(t, q, rename)
		deliverOkta(t, q, at("5", provider.EventGroupMemberAdd, "bob", "Platform", 4))
		if n, err := q.RetryDead(ctx, "cli", 0); err != nil || n != 1 {
			t.Fatalf("RetryDead = %d, %v; want the rename's dead letter", n, err)
		}
		clk.t = clk.t.Add(time.Hour)
		deliverOkta(t, q)

		a, b := duoGroupsOf(t, duo, "alice"), duoGroupsOf(t, duo, "bob")
		if len(a) == 1 && len(b) == 1 && a[0].Name == b[0].Name && a[0].GroupID != b[0].GroupID {
			t.Fatalf("two groups named %s at DUO: alice in %+v, bob in %+v", a[0].Name, a, b)
		}
		dead, err := st.(store.SyncQueue).ListEvents(ctx, store.QueueFilter{State: store.QueueDead})
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].Type != provider.EventGroupRename || !strings.Contains(dead[0].Note, "Platform") ||
			!strings.Contains(dead[0].Note, "drop") {
			t.Fatalf("dead letters %+v; want the rename, its error naming Platform and saying what to do", dead)
		}
	})
}

// A membership whose propagation to DUO became a dead letter, then the group renamed: the
// rename went ahead (a dead letter holds nothing back). When the operator retried the
// membership, it looked the old name up at DUO and found nothing: an add created a group
// of the old name for the member alone, who was left out of the renamed group; a removal
// ended there as done, leaving the member in the renamed group at DUO. The retried
// membership must reach the group under its new name.
func TestDeadMembershipRetriedAfterRenameAtDUO(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     string
		members []string // of Eng before, besides bob
		want    int      // alice's groups at DUO after: 1, in bob's Platform; 0, none
	}{
		{"add", provider.EventGroupMemberAdd, nil, 1},
		{"remove", provider.EventGroupMemberRemove, []string{"alice"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				q, duo, clk := duoQueue(t, st)
				q.MaxAttempts = 1
				at := eventsFrom(clk.Now().Add(-time.Minute))
				evs := []provider.LifecycleEvent{at("1", provider.EventUserCreate, "alice", "", 0), at("2", provider.EventUserCreate, "bob", "", 1),
					at("3", provider.EventGroupMemberAdd, "bob", "Eng", 2)}
				for _, m := range tc.members {
					evs = append(evs, at("3"+m, provider.EventGroupMemberAdd, m, "Eng", 2))
				}
				deliverOkta(t, q, evs...)

				duo.FailNext("/admin/v1/groups", 500) // the membership's group look-up: its one attempt
				deliverOkta(t, q, at("4", tc.typ, "alice", "Eng", 3))
				rename := at("5", provider.EventGroupRename, "", "Eng", 4)
				rename.NewGroup = "Platform"
				deliverOkta(t, q, rename)
				if n, err := q.RetryDead(ctx, "cli", 0); err != nil || n != 1 {
					t.Fatalf("RetryDead = %d, %v; want the membership's dead letter", n, err)
				}
				clk.t = clk.t.Add(time.Hour)
				deliverOkta(t, q)

				a, b := duoGroupsOf(t, duo, "alice"), duoGroupsOf(t, duo, "bob")
				if len(b) != 1 || b[0].Name != "Platform" || len(a) != tc.want || tc.want == 1 && a[0].GroupID != b[0].GroupID {
					t.Errorf("at DUO alice is in %+v and bob in %+v; want bob in Platform and alice in %d of it", a, b, tc.want)
				}
				if g, ok := duo.Group("Eng"); ok {
					t.Errorf("DUO has a group Eng again: %+v", g)
				}
			})
		})
	}
}
