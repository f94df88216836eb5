package sync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestGroupDeletionNotUndoneByAnOlderAdd: a SCIM deletion of a group, committed after a
// worker checked the directory's older add of a user who is not a member and before its
// write, is not undone by the add. The deletion moved the group's mark, which the add is
// ordered by, but no revision of the user's (she was no member: nothing of her changed),
// and the worker's write on the revision it read went through: alice was left in a group
// that no longer exists, and the vendors were told to add her to it. The add's commit now
// checks the marks it was ordered by, after its update of the group's row, which the
// deletion's commit writes too: the add is refused, checked again and left out as older.
func TestGroupDeletionNotUndoneByAnOlderAdd(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
		sq := st.(store.SyncQueue)
		hooked := &testdb.BeforeUserChanges{Store: st}
		worker := queueOn(t, hooked, sq, clk)
		scim, m, _ := newQueue(t, st)
		scim.Now, scim.Applier.Now = clk.Now, clk.Now
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		create := provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"}
		if err := scim.ApplyGroupNow(ctx, sync.GroupWrite{ID: "g-eng", Source: "scim", Events: []provider.LifecycleEvent{create}}); err != nil {
			t.Fatal(err)
		}
		add := ev("o1", provider.EventGroupMemberAdd, "alice", clk.Now().Add(5*time.Second))
		add.Group = "eng"
		if _, err := worker.Enqueue(ctx, []provider.LifecycleEvent{add}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		hooked.Before = func() {
			g, err := sq.GetGroup(ctx, "g-eng")
			if err != nil {
				t.Error(err)
				return
			}
			del := provider.LifecycleEvent{Type: provider.EventGroupDelete, Source: "scim", Group: "eng"}
			if err := scim.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: []provider.LifecycleEvent{del}}); err != nil {
				t.Error(err)
			}
		}
		drain(t, worker)
		u, err := m.GetUser(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(u.Groups, "eng") {
			t.Errorf("alice's groups %q: the older add undid eng's deletion", u.Groups)
		}
	})
}
