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

// TestGroupWriteMembersDatedAfterItsRename: a replica whose clock is 2 s ahead renames
// Dev to Eng (a SCIM PATCH); a second later a replica whose clock is right takes a PATCH
// that renames Eng to Platform and adds alice. The write's rename is dated after the
// mark of Eng's rename, 2 s ahead; alice's add, of Platform, must be dated no earlier,
// for its propagation to wait for the rename's (groupAhead), as it would had the two been
// written one after the other. Dated each by the marks it changes alone, the add was
// dated by the clock, before its own write's rename: it went to the vendor first and
// created Platform there for alice alone, and the rename then failed on the name taken,
// for good: two groups at the vendor where emfa has one.
func TestGroupWriteMembersDatedAfterItsRename(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		duo := &namedGroups{vendor: newVendor("duo"), groups: map[string][]string{}}
		q.Propagators = []provider.LifecyclePropagator{duo}
		for _, u := range []string{"alice", "bob"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: u}); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "Dev"}); err != nil {
			t.Fatal(err)
		}
		write := func(q *sync.Queue, evs ...provider.LifecycleEvent) {
			t.Helper()
			g, err := q.Store.GetGroupByName(ctx, evs[0].Group)
			if err != nil {
				t.Fatal(err)
			}
			for i := range evs {
				evs[i].Source = "scim"
			}
			if err := q.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: evs}); err != nil {
				t.Fatal(err)
			}
		}
		write(q, provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Username: "bob", Group: "Dev"})
		drain(t, q)

		clk.Advance(time.Minute)
		ahead := func() time.Time { return clk.Now().Add(2 * time.Second) }
		a := *q.Applier
		a.Now = ahead
		write(&sync.Queue{Store: q.Store, Applier: &a, Propagators: q.Propagators, Now: ahead},
			provider.LifecycleEvent{Type: provider.EventGroupRename, Group: "Dev", NewGroup: "Eng"})

		clk.Advance(time.Second)
		write(q, provider.LifecycleEvent{Type: provider.EventGroupRename, Group: "Eng", NewGroup: "Platform"},
			provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Username: "alice", Group: "Platform"})
		for range 4 {
			drain(t, q)
			clk.Advance(time.Hour)
		}
		if u, err := m.GetUser(ctx, "alice"); err != nil || !slices.Equal(u.Groups, []string{"Platform"}) {
			t.Fatalf("alice in emfa: %v, %v; want in Platform", u.Groups, err)
		}
		wantOnePlatform(t, duo)
	})
}

// TestUndatedDeliveryMembersDatedAfterItsRename: as TestGroupWriteMembersDatedAfterItsRename,
// for a directory's delivery of events without a time (Enqueue), dated on receipt: Dev
// was renamed to Eng by a change dated 2 s ahead; a second later a delivery renames Eng
// to Platform and adds alice to Platform. alice's add must be dated no earlier than the
// delivery's rename before it, or it is propagated first and creates Platform at the
// vendor for alice alone.
func TestUndatedDeliveryMembersDatedAfterItsRename(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := &namedGroups{vendor: newVendor("duo"), groups: map[string][]string{}}
		q.Propagators = []provider.LifecyclePropagator{duo}
		a := adminManager(t, q, st, clk)
		for _, u := range []string{"alice", "bob"} {
			if _, err := a.CreateUser(ctx, "ops", lifecycle.UserInput{Name: u}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.UpdateUser(ctx, "ops", "bob", lifecycle.UserInput{Groups: &[]string{"Dev"}}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)

		clk.Advance(time.Minute)
		first := ev("r1", provider.EventGroupRename, "", clk.Now().Add(2*time.Second)) // a clock ahead's date
		first.Group, first.NewGroup = "Dev", "Eng"
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{first}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)

		clk.Advance(time.Second)
		rename := provider.LifecycleEvent{ID: "r2", Type: provider.EventGroupRename, Source: "verify", Group: "Eng", NewGroup: "Platform"}
		add := provider.LifecycleEvent{ID: "a1", Type: provider.EventGroupMemberAdd, Source: "verify", Username: "alice", Group: "Platform"}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{rename, add}); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			drain(t, q)
			clk.Advance(time.Hour)
		}
		for _, u := range []string{"alice", "bob"} {
			if got, err := a.GetUser(ctx, u); err != nil || !slices.Equal(got.Groups, []string{"Platform"}) {
				t.Errorf("%s in emfa: %v, %v; want in Platform", u, got.Groups, err)
			}
		}
		wantOnePlatform(t, duo)
	})
}

// wantOnePlatform checks that the vendor has the one group emfa has after the two
// renames, Platform of alice and bob, and neither of its old names.
func wantOnePlatform(t *testing.T, duo *namedGroups) {
	t.Helper()
	duo.mu.Lock()
	defer duo.mu.Unlock()
	if got := duo.groups["Platform"]; !slices.Contains(got, "alice") || !slices.Contains(got, "bob") {
		t.Errorf("at the vendor Platform has %q, want alice and bob; Eng has %q", got, duo.groups["Eng"])
	}
	for _, old := range []string{"Dev", "Eng"} {
		if got, ok := duo.groups[old]; ok {
			t.Errorf("the vendor still has %s, of %q", old, got)
		}
	}
}
