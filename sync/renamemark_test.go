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
)

// TestOperatorMembershipAfterRenameOnReplicaAhead: the directory renames Eng
// Platform, dated by a replica whose clock is 2 s ahead (SCIM's changes are dated on
// receipt); the vendor fails the rename once. A second later an operator, on a replica
// whose clock is right, puts alice in Platform. The operator's change is the later one:
// its propagation waits for the rename's (groupAhead), as it does without the skew.
// Before, a rename left no mark, so MarkTime dated the membership by the operator's
// clock, before the rename: the add went first, created Platform at the vendor for alice
// alone, and the rename then failed on the name taken: two groups where emfa has one.
func TestOperatorMembershipAfterRenameOnReplicaAhead(t *testing.T) {
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
		if _, err := a.UpdateUser(ctx, "ops", "bob", lifecycle.UserInput{Groups: &[]string{"Eng"}}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)

		clk.Advance(time.Minute)
		duo.failing(provider.EventGroupRename, true)
		rename := ev("r1", provider.EventGroupRename, "", clk.Now().Add(2*time.Second)) // the replica ahead's date
		rename.Group, rename.NewGroup = "Eng", "Platform"
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{rename}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		duo.failing(provider.EventGroupRename, false)

		clk.Advance(time.Second)
		if _, err := a.UpdateUser(ctx, "ops", "alice", lifecycle.UserInput{Groups: &[]string{"Platform"}}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		for range 3 {
			clk.Advance(time.Hour)
			drain(t, q)
		}
		if u, err := a.GetUser(ctx, "alice"); err != nil || !slices.Equal(u.Groups, []string{"Platform"}) {
			t.Fatalf("alice in emfa: %v, %v; want in Platform", u.Groups, err)
		}
		duo.mu.Lock()
		defer duo.mu.Unlock()
		if got := duo.groups["Platform"]; !slices.Contains(got, "alice") || !slices.Contains(got, "bob") {
			t.Errorf("at the vendor Platform has %q, want alice and bob; Eng has %q", got, duo.groups["Eng"])
		}
		if m, ok := duo.groups["Eng"]; ok {
			t.Errorf("the vendor still has Eng, of %q", m)
		}
	})
}
