package sync_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// d92Users creates n users of mixed-case names (as Entra's userPrincipalName often is),
// in one batch, and returns their names.
func d92Users(tb testing.TB, st store.Store, n int) []string {
	tb.Helper()
	names := make([]string, n)
	changes := make([]store.UserChange, n)
	for i := range changes {
		names[i] = fmt.Sprintf("D92.User-%05d@Example.com", i)
		u := store.User{ID: fmt.Sprintf("d92-%05d", i), Name: names[i], CreatedAt: time.Unix(1_700_000_000, 0)}
		changes[i] = store.UserChange{Name: u.Name, Create: &u, Now: u.CreatedAt}
	}
	for i, err := range st.ApplyUserChanges(context.Background(), changes) {
		if err != nil {
			tb.Fatalf("create user %d: %v", i, err)
		}
	}
	return names
}

// d92GroupWrite adds (or removes) names to the group eng, as a SCIM PUT of its members
// does: one ApplyGroupNow on the group's revision.
func d92GroupWrite(tb testing.TB, q *sync.Queue, typ string, names []string) {
	tb.Helper()
	ctx := context.Background()
	g, err := q.Store.GetGroupByName(ctx, "eng")
	if err != nil {
		tb.Fatal(err)
	}
	evs := make([]provider.LifecycleEvent, len(names))
	for i, n := range names {
		evs[i] = provider.LifecycleEvent{Type: typ, Source: "scim", Username: n, Group: "eng"}
	}
	if err := q.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: evs}); err != nil {
		tb.Fatal(err)
	}
}

// TestGroupWriteMembersLinear: a group write (a SCIM PUT of a group's members)
// matched each member it reads against every event of the write (store.SameName, which
// folds both names: two allocations a pair for mixed-case names), n² comparisons: a PUT
// of 20,000 members spent 6 s of its 10 s in them, one of 50,000 never ended within its
// deadline (503, and the directory's retry the same). Each member's events are found by
// its folded name now, whatever the case the event names it in. Counted by allocations:
// the write of each member is about 440 (at 2,000 members as at 4,000), and the n²
// comparisons made 2n more a member (4,437 at 2,000).
func TestGroupWriteMembersLinear(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under -race are not the program's")
	}
	ctx := context.Background()
	st := testdb.SQLite(t)
	q, m, _ := newQueue(t, st)
	const n = 2000
	names := d92Users(t, st, n)
	if err := q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"}); err != nil {
		t.Fatal(err)
	}
	add := true
	perMember := testing.AllocsPerRun(1, func() {
		typ := provider.EventGroupMemberRemove
		if add {
			typ = provider.EventGroupMemberAdd
		}
		add = !add
		d92GroupWrite(t, q, typ, names) // the warm-up adds them all, the run counted removes them
	}) / n
	t.Logf("a group write of %d members: %.0f allocations a member", n, perMember)
	if perMember > 1000 {
		t.Errorf("a group write of %d members made %.0f allocations a member: it grows with the members", n, perMember)
	}
	// Whatever the case an event names a member in, it is that member's.
	lower := make([]string, n)
	for i, name := range names {
		lower[i] = strings.ToLower(name)
	}
	d92GroupWrite(t, q, provider.EventGroupMemberAdd, lower)
	d92GroupWrite(t, q, provider.EventGroupMemberRemove, lower[:10])
	for i, name := range []string{names[0], names[9], names[10], names[n-1]} {
		u, err := m.GetUser(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if want := i >= 2; slices.Contains(u.Groups, "eng") != want {
			t.Errorf("%s: groups %v, in eng: want %v", name, u.Groups, want)
		}
	}
}
