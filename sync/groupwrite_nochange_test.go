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

// TestGroupWriteThatChangesAMemberNotUndoneMeanwhile: a SCIM group write that adds a
// member the group has already, or removes one it does not have, is the directory's
// newest word on that membership, whichever commits first of it and a worker's apply of
// the directory's older event of the same membership:
//
//   - the write first, after the worker checked the ordering marks and before its write:
//     the worker's write is refused, checked again and skipped. The write moved the
//     member's mark in its commit but, changing nothing of the user, left the user's
//     revision as it was, and the worker's write on that revision went through: alice
//     ended outside the group (and the vendor was told to remove her) though the
//     directory's newest event said add;
//   - the worker first, after the write read its members: the write, on the revision it
//     read, finds the user changed, reads it again and makes its change. (A write of a
//     group that exists is refused then, the group's revision moved by the worker's
//     change of its members; a creation has no revision to be refused on: its member,
//     who had the group's name already, is added again.)
func TestGroupWriteThatChangesAMemberNotUndoneMeanwhile(t *testing.T) {
	for _, c := range []struct {
		name       string
		member     bool   // alice has eng before either
		older      string // the directory's older event, applied by the worker
		write      string // the group write's event, which changes nothing as the write reads her
		creates    bool   // the write creates eng (alice has the name already)
		writeFirst bool
	}{
		{"an add of a member", true, provider.EventGroupMemberRemove, provider.EventGroupMemberAdd, false, true},
		{"a remove of a non-member", false, provider.EventGroupMemberAdd, provider.EventGroupMemberRemove, false, true},
		{"a creation's add of a member, the worker first", true, provider.EventGroupMemberRemove, provider.EventGroupMemberAdd, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
				sq := st.(store.SyncQueue)
				// The worker's manager runs hooked.Before between its check of the marks
				// and its write; the group write, another replica's, runs groups.before
				// between its read of the members and its commit.
				hooked := &testdb.BeforeUserChanges{Store: st}
				worker := queueOn(t, hooked, sq, clk)
				scim, m, _ := newQueue(t, st)
				groups := &groupWriteAfter{SyncQueue: sq}
				scim.Now, scim.Applier.Now, scim.Applier.Groups = clk.Now, clk.Now, groups
				in := lifecycle.UserInput{Name: "alice"}
				if c.member && c.creates {
					in.Groups = &[]string{"eng"}
				}
				if _, err := m.CreateUser(ctx, "test", in); err != nil {
					t.Fatal(err)
				}
				var write sync.GroupWrite
				change := provider.LifecycleEvent{Type: c.write, Source: "scim", Username: "alice", Group: "eng"}
				if c.creates {
					write = sync.GroupWrite{ID: "g-eng", Source: "scim",
						Events: []provider.LifecycleEvent{{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"}, change}}
				} else {
					create := []provider.LifecycleEvent{{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"}}
					if c.member {
						create = append(create, provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Source: "scim", Username: "alice", Group: "eng"})
					}
					if err := scim.ApplyGroupNow(ctx, sync.GroupWrite{ID: "g-eng", Source: "scim", Events: create}); err != nil {
						t.Fatal(err)
					}
					g, err := sq.GetGroup(ctx, "g-eng")
					if err != nil {
						t.Fatal(err)
					}
					write = sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: []provider.LifecycleEvent{change}}
				}
				older := ev("o1", c.older, "alice", clk.Now().Add(5*time.Second))
				older.Group = "eng"
				if _, err := worker.Enqueue(ctx, []provider.LifecycleEvent{older}); err != nil {
					t.Fatal(err)
				}
				clk.Advance(time.Minute)
				apply := func() {
					if err := scim.ApplyGroupNow(ctx, write); err != nil {
						t.Fatal(err)
					}
				}
				if c.writeFirst {
					hooked.Before = apply
					drain(t, worker)
				} else {
					groups.before = func() { drain(t, worker) }
					apply()
				}
				if hooked.Before != nil || groups.before != nil {
					t.Fatal("the other change did not come between")
				}
				u, err := m.GetUser(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				if in := slices.Contains(u.Groups, "eng"); in != c.member {
					t.Fatalf("alice in eng: %v, want %v (the group write's %s, the newest): the directory's older %s undid it",
						in, c.member, c.write, c.older)
				}
			})
		})
	}
}
