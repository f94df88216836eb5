package main

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A group renamed whose propagation to DUO became a dead letter, then a member added under
// the old name in the directory (a new group of that name): the add went to DUO's old
// group, still named so. When the operator retried the rename, it renamed that group, the
// new member with it: DUO had carol in Platform, the directory in Eng. The retried rename
// must leave carol in a group Eng at DUO, and alice alone in Platform.
func TestDeadRenameRetriedAfterAddUnderOldNameAtDUO(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, duo, clk := duoQueue(t, st)
		q.MaxAttempts = 1
		at := eventsFrom(clk.Now().Add(-time.Minute))
		deliverOkta(t, q, at("1", provider.EventUserCreate, "alice", "", 0), at("2", provider.EventUserCreate, "carol", "", 1),
			at("3", provider.EventGroupMemberAdd, "alice", "Eng", 2))
		duo.FailNext("/admin/v1/groups", 500)
		rename := at("4", provider.EventGroupRename, "", "Eng", 3)
		rename.NewGroup = "Platform"
		deliverOkta(t, q, rename)
		deliverOkta(t, q, at("5", provider.EventGroupMemberAdd, "carol", "Eng", 4))
		if n, err := q.RetryDead(ctx, "cli", 0); err != nil || n != 1 {
			t.Fatalf("RetryDead = %d, %v", n, err)
		}
		clk.t = clk.t.Add(time.Hour)
		deliverOkta(t, q)
		if c := duoGroupsOf(t, duo, "carol"); len(c) != 1 || c[0].Name != "Eng" {
			t.Errorf("carol's groups at DUO: %+v; want Eng", c)
		}
		if a := duoGroupsOf(t, duo, "alice"); len(a) != 1 || a[0].Name != "Platform" {
			t.Errorf("alice's groups at DUO: %+v; want Platform", a)
		}
	})
}
