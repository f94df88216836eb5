package sync_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// killedBeforeGroupCommit is a group store whose process dies when a group write reads
// its group: the write's events are queued and leased, nothing of it is applied, and the
// source is never answered.
type killedBeforeGroupCommit struct {
	store.SyncQueue
}

func (killedBeforeGroupCommit) GetGroup(context.Context, string) (store.Group, error) {
	runtime.Goexit()
	return store.Group{}, nil
}

// ApplyGroupChange: a write that creates its group reads none; it dies at its commit.
func (killedBeforeGroupCommit) ApplyGroupChange(context.Context, store.GroupChange) error {
	runtime.Goexit()
	return nil
}

// applyKilled runs w through ApplyGroupNow on a process that dies before its commit.
func applyKilled(q *sync.Queue, w sync.GroupWrite) {
	a := *q.Applier
	a.Groups = killedBeforeGroupCommit{q.Store}
	killed := &sync.Queue{Store: q.Store, Applier: &a, Now: q.Now}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = killed.ApplyGroupNow(context.Background(), w)
	}()
	<-done
}

// TestGroupWriteKilledBeforeItsCommit: a group write (SCIM PUT, PATCH, DELETE) is one
// step on the group's revision as read, all of it or nothing. A process killed after
// queueing its events and before its commit applied none of it and answered nobody; the
// worker that takes the events over once their lease passes must not apply them one by
// one, unconditionally: that would apply a write another made on the same revision
// overtook (If-Match), and part of a write refused as a whole.
func TestGroupWriteKilledBeforeItsCommit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		groups := func(name string) []string {
			t.Helper()
			u, err := m.GetUser(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			return u.Groups
		}
		for _, n := range []string{"alice", "bob", "full"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		hundred := make([]string, 100)
		for i := range hundred {
			hundred[i] = "g" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		}
		if _, err := m.UpdateUser(ctx, "test", "full", lifecycle.UserInput{Groups: &hundred}); err != nil {
			t.Fatal(err)
		}
		if err := q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"},
			provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Source: "scim", Username: "alice", Group: "eng"}); err != nil {
			t.Fatal(err)
		}
		g, err := q.Store.GetGroupByName(ctx, "eng")
		if err != nil {
			t.Fatal(err)
		}
		member := func(typ, user, group string) provider.LifecycleEvent {
			return provider.LifecycleEvent{Type: typ, Source: "scim", Username: user, Group: group}
		}

		// Writer A, on revision 0, removes alice and dies before its commit.
		applyKilled(q, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision,
			Events: []provider.LifecycleEvent{member(provider.EventGroupMemberRemove, "alice", "eng")}})
		// Writer B, on revision 0 too, adds bob: it applies, and A's version is gone.
		if err := q.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision,
			Events: []provider.LifecycleEvent{member(provider.EventGroupMemberAdd, "bob", "eng")}}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		drain(t, q)
		if got := groups("alice"); !slices.Equal(got, []string{"eng"}) {
			t.Errorf("a write on a revision another overtook, killed before its commit, was applied by the worker: alice in %v", got)
		}

		// Writer C renames the group and adds a member at its limit of groups: refused
		// whole when applied at once; killed before its commit, the worker must not
		// apply its rename alone.
		g, err = q.Store.GetGroup(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		applyKilled(q, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: []provider.LifecycleEvent{
			{Type: provider.EventGroupRename, Source: "scim", Group: "eng", NewGroup: "eng2"},
			member(provider.EventGroupMemberAdd, "full", "eng2")}})
		clk.Advance(2 * time.Minute)
		drain(t, q)
		if g2, err := q.Store.GetGroup(ctx, g.ID); err != nil || g2.Name != "eng" {
			t.Errorf("a write refused as a whole had its rename applied alone by the worker: the group %+v, %v", g2, err)
		}
		if got := groups("bob"); !slices.Equal(got, []string{"eng"}) {
			t.Errorf("bob in %v, want [eng]", got)
		}
	})
}

// killedAfterGroupCommit is a queue store whose process dies as a group write, committed,
// finishes its events: they stay leased, recorded applied, not done.
type killedAfterGroupCommit struct {
	store.SyncQueue
}

func (killedAfterGroupCommit) FinishAppliedEvents(context.Context, string, []store.AppliedEvent, time.Time) error {
	runtime.Goexit()
	return nil
}

// TestGroupWriteKilledAfterItsCommit: a group write that committed before its process
// died is taken over by a worker as applied: its events are propagated, and nothing is
// applied twice.
func TestGroupWriteKilledAfterItsCommit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := &captured{}
		q.Propagators = []provider.LifecyclePropagator{prop}
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		if err := q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		g, err := q.Store.GetGroupByName(ctx, "eng")
		if err != nil {
			t.Fatal(err)
		}
		prop.evs = nil
		killed := &sync.Queue{Store: killedAfterGroupCommit{q.Store}, Applier: q.Applier, Now: q.Now}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = killed.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: []provider.LifecycleEvent{
				{Type: provider.EventGroupMemberAdd, Source: "scim", Username: "alice", Group: "eng"}}})
		}()
		testwait.Recv(t, "the killed ApplyGroupNow to end", done)
		clk.Advance(2 * time.Minute)
		drain(t, q)
		u, err := m.GetUser(ctx, "alice")
		if err != nil || !slices.Equal(u.Groups, []string{"eng"}) {
			t.Fatalf("alice: %v %v", u.Groups, err)
		}
		if len(prop.evs) != 1 || prop.evs[0].Type != provider.EventGroupMemberAdd || prop.evs[0].Username != "alice" {
			t.Errorf("propagated %+v, want the committed write's add", prop.evs)
		}
	})
}

// TestGroupCreateIsOneWrite: a group write whose first event is its group.create (a SCIM
// POST) creates the group, its external id and its members in one step, all of it or
// nothing: a member refused, or a name taken, creates nothing; a process killed before
// its commit leaves nothing a worker would create piecemeal, and the create made again
// succeeds; one killed after its commit is propagated whole.
func TestGroupCreateIsOneWrite(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := &captured{}
		q.Propagators = []provider.LifecyclePropagator{prop}
		for _, n := range []string{"alice", "bob", "carol", "full"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		hundred := make([]string, 100)
		for i := range hundred {
			hundred[i] = "g" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		}
		if _, err := m.UpdateUser(ctx, "test", "full", lifecycle.UserInput{Groups: &hundred}); err != nil {
			t.Fatal(err)
		}
		groups := func(name string) []string {
			t.Helper()
			u, err := m.GetUser(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			return u.Groups
		}
		creation := func(id, group string, members ...string) sync.GroupWrite {
			evs := []provider.LifecycleEvent{{Type: provider.EventGroupCreate, Source: "scim", Group: group}}
			for _, n := range members {
				evs = append(evs, provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Source: "scim", Username: n, Group: group})
			}
			return sync.GroupWrite{ID: id, ExternalID: "ext-" + group, Source: "scim", Events: evs}
		}
		noGroup := func(what, name string) {
			t.Helper()
			if g, err := q.Store.GetGroupByName(ctx, name); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: the group %s is there: %+v, %v", what, name, g, err)
			}
		}

		if err := q.ApplyGroupNow(ctx, creation("g-eng", "eng", "alice", "bob")); err != nil {
			t.Fatal(err)
		}
		g, err := q.Store.GetGroup(ctx, "g-eng")
		if err != nil || g.Name != "eng" || g.ExternalID != "ext-eng" || g.Revision != 0 {
			t.Fatalf("the created group: %+v, %v; want eng, ext-eng, revision 0", g, err)
		}
		if a, b := groups("alice"), groups("bob"); !slices.Equal(a, []string{"eng"}) || !slices.Equal(b, []string{"eng"}) {
			t.Errorf("the members after the create: alice %v, bob %v", a, b)
		}
		drain(t, q)
		var got []string
		for _, ev := range prop.evs {
			got = append(got, ev.Type+" "+ev.Username)
		}
		if want := []string{"group.create ", "group.member.add alice", "group.member.add bob"}; !slices.Equal(got, want) {
			t.Errorf("propagated %q, want %q", got, want)
		}

		// A member at its limit of groups, or the name taken: nothing is created.
		var le *lifecycle.Error
		if err := q.ApplyGroupNow(ctx, creation("g-ops", "ops", "alice", "full")); !errors.As(err, &le) {
			t.Errorf("a create with a member at its limit: %v, want a refusal", err)
		}
		noGroup("a create with a member at its limit", "ops")
		if err := q.ApplyGroupNow(ctx, creation("g-eng2", "eng", "carol")); !errors.As(err, &le) || le.Code != "group_exists" {
			t.Errorf("a create of a name taken: %v, want group_exists", err)
		}
		if _, err := q.Store.GetGroup(ctx, "g-eng2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a create of a name taken made its group: %v", err)
		}
		if a, c := groups("alice"), groups("carol"); !slices.Equal(a, []string{"eng"}) || len(c) != 0 {
			t.Errorf("after the refused creates: alice in %v, carol in %v", a, c)
		}

		// Killed before its commit: the worker creates nothing of it; made again, it
		// creates the group.
		applyKilled(q, creation("g-dev", "dev", "alice"))
		clk.Advance(2 * time.Minute)
		drain(t, q)
		noGroup("a create killed before its commit, its events taken over", "dev")
		if a := groups("alice"); slices.Contains(a, "dev") {
			t.Errorf("a create killed before its commit had its member added by the worker: alice in %v", a)
		}
		if err := q.ApplyGroupNow(ctx, creation("g-dev2", "dev", "alice")); err != nil {
			t.Fatalf("the create made again: %v", err)
		}
		if a := groups("alice"); !slices.Contains(a, "dev") {
			t.Errorf("the create made again: alice in %v", a)
		}

		// Killed after its commit: the worker propagates it whole.
		drain(t, q)
		prop.evs = nil
		killed := &sync.Queue{Store: killedAfterGroupCommit{q.Store}, Applier: q.Applier, Now: q.Now}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = killed.ApplyGroupNow(ctx, creation("g-qa", "qa", "bob"))
		}()
		testwait.Recv(t, "the killed ApplyGroupNow to end", done)
		clk.Advance(2 * time.Minute)
		drain(t, q)
		if g, err := q.Store.GetGroup(ctx, "g-qa"); err != nil || g.Name != "qa" || !slices.Contains(groups("bob"), "qa") {
			t.Errorf("a create killed after its commit: %+v, %v; bob in %v", g, err, groups("bob"))
		}
		got = nil
		for _, ev := range prop.evs {
			got = append(got, ev.Type+" "+ev.Username)
		}
		if want := []string{"group.create ", "group.member.add bob"}; !slices.Equal(got, want) {
			t.Errorf("propagated %q after a kill after the commit, want %q", got, want)
		}
	})
}
