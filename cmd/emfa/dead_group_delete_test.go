package main

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A group deleted whose propagation to DUO became a dead letter, then a member added under
// the same name in the directory (the add went to DUO's old group, which the dead delete
// had not removed). When the operator retried the delete, it deleted that group, and the
// new member with it: the directory has bob in Eng, DUO in no group. The retried delete
// must leave bob in a group Eng at DUO, and alice in none.
func TestDeadDeleteRetriedAfterAddAtDUO(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, duo, clk := duoQueue(t, st)
		q.MaxAttempts = 1
		at := eventsFrom(clk.Now().Add(-time.Minute))
		deliverOkta(t, q, at("1", provider.EventUserCreate, "alice", "", 0), at("2", provider.EventUserCreate, "bob", "", 1),
			at("3", provider.EventGroupMemberAdd, "alice", "Eng", 2))
		duo.FailNext("/admin/v1/groups", 500)
		deliverOkta(t, q, at("4", provider.EventGroupDelete, "", "Eng", 3))
		deliverOkta(t, q, at("5", provider.EventGroupMemberAdd, "bob", "Eng", 4))
		if n, err := q.RetryDead(ctx, "cli", 0); err != nil || n != 1 {
			t.Fatalf("RetryDead = %d, %v", n, err)
		}
		clk.t = clk.t.Add(time.Hour)
		deliverOkta(t, q)
		if b := duoGroupsOf(t, duo, "bob"); len(b) != 1 || b[0].Name != "Eng" {
			t.Errorf("bob's groups at DUO: %+v; want Eng", b)
		}
		if a := duoGroupsOf(t, duo, "alice"); len(a) != 0 {
			t.Errorf("alice's groups at DUO: %+v; want none", a)
		}
	})
}

// A group deleted, then another renamed to its name: the deletion's propagation adds again
// only the members added after it, not those the rename brings, whose own propagation
// renames their group at DUO (an add of them first would create a group of that name, and
// the rename then fail as a conflict).
func TestDeleteThenRenameIntoNameAtDUO(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, duo, clk := duoQueue(t, st)
		at := eventsFrom(clk.Now().Add(-time.Minute))
		deliverOkta(t, q, at("1", provider.EventUserCreate, "alice", "", 0), at("2", provider.EventUserCreate, "bob", "", 1),
			at("3", provider.EventGroupMemberAdd, "alice", "Eng", 2), at("4", provider.EventGroupMemberAdd, "bob", "Sales", 2))
		rename := at("6", provider.EventGroupRename, "", "Sales", 4)
		rename.NewGroup = "Eng"
		deliverOkta(t, q, at("5", provider.EventGroupDelete, "", "Eng", 3), rename)
		if dead, err := st.(store.SyncQueue).ListEvents(ctx, store.QueueFilter{State: store.QueueDead}); err != nil || len(dead) != 0 {
			t.Fatalf("dead letters %+v, %v", dead, err)
		}
		if b := duoGroupsOf(t, duo, "bob"); len(b) != 1 || b[0].Name != "Eng" {
			t.Errorf("bob's groups at DUO: %+v; want Eng", b)
		}
		if a := duoGroupsOf(t, duo, "alice"); len(a) != 0 {
			t.Errorf("alice's groups at DUO: %+v; want none", a)
		}
	})
}
