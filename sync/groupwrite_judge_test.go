package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestGroupWriteKilledJudgedByItsOwnCommit: a worker that takes over a group write's
// events after a kill must judge by whether that write committed, not by whether the
// store happens to look like its effect now. A rename killed before its commit, its group
// deleted by the write that overtook it and its new name then taken by another group,
// never happened: it must not be propagated. A rename that committed before the kill,
// renamed again since, did happen: it must be propagated (the next rename's propagation
// starts from its name).
func TestGroupWriteKilledJudgedByItsOwnCommit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		prop := &captured{}
		q.Propagators = []provider.LifecyclePropagator{prop}
		create := func(name string) store.Group {
			t.Helper()
			if err := q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: name}); err != nil {
				t.Fatal(err)
			}
			g, err := q.Store.GetGroupByName(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
		rename := func(from, to string) []provider.LifecycleEvent {
			return []provider.LifecycleEvent{{Type: provider.EventGroupRename, Source: "scim", Group: from, NewGroup: to}}
		}
		renamed := func(from, to string) bool {
			for _, ev := range prop.evs {
				if ev.Type == provider.EventGroupRename && ev.Group == from && ev.NewGroup == to {
					return true
				}
			}
			return false
		}

		// Never committed: killed before; the group deleted on the same revision; the
		// new name then taken by another group.
		g := create("eng")
		applyKilled(q, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: rename("eng", "eng2")})
		if err := q.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision,
			Events: []provider.LifecycleEvent{{Type: provider.EventGroupDelete, Source: "scim", Group: "eng"}}}); err != nil {
			t.Fatal(err)
		}
		create("eng2")
		clk.Advance(2 * time.Minute)
		drain(t, q)
		if renamed("eng", "eng2") {
			t.Errorf("a rename killed before its commit, overtaken by a delete, was propagated: %+v", prop.evs)
		}

		// Committed, killed after; renamed again since.
		prop.evs = nil
		g = create("ops")
		killed := &sync.Queue{Store: killedAfterGroupCommit{q.Store}, Applier: q.Applier, Now: q.Now}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = killed.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: rename("ops", "ops2")})
		}()
		testwait.Recv(t, "the killed ApplyGroupNow to end", done)
		g, err := q.Store.GetGroup(ctx, g.ID)
		if err != nil || g.Name != "ops2" {
			t.Fatalf("the rename did not commit: %+v %v", g, err)
		}
		if err := q.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: rename("ops2", "ops3")}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		drain(t, q)
		if !renamed("ops", "ops2") || !renamed("ops2", "ops3") {
			t.Errorf("a committed rename, its process killed after the commit, was never propagated: %+v", prop.evs)
		}
	})
}
