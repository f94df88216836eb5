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

// groupsVendor is groupVendor that also takes a deleted group from its members, as DUO
// does when the group is deleted.
type groupsVendor struct{ *groupVendor }

func newGroupsVendor() groupsVendor {
	return groupsVendor{&groupVendor{vendor: newVendor("duo"), groups: map[string][]string{}}}
}

func (v groupsVendor) Propagate(ctx context.Context, ev provider.LifecycleEvent) error {
	if err := v.groupVendor.Propagate(ctx, ev); err != nil || ev.Type != provider.EventGroupDelete {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for u, gs := range v.groups {
		v.groups[u] = slices.DeleteFunc(gs, func(g string) bool { return g == ev.Group })
	}
	return nil
}

// TestReviewOperatorMembershipAfterGroupEventOnReplicaBehind: the directory creates (or
// deletes) the group eng on a replica whose clock is right; a second later an operator, on
// a replica whose clock is 2 s behind, puts alice in eng. The operator's change is the
// later one (README: ordered "as if it were one of them, dated when emfa commits it"):
// emfa has alice in eng, and so must the vendor. Before, MarkTime dated the membership
// after the user's own marks only, not after the group's existence mark, which the
// membership's propagation is checked against: it was dropped as older than a change
// applied since, and the vendor never had alice in eng.
func TestReviewOperatorMembershipAfterGroupEventOnReplicaBehind(t *testing.T) {
	for _, typ := range []string{provider.EventGroupCreate, provider.EventGroupDelete} {
		t.Run(typ, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				q, _, clk := newQueue(t, st)
				duo := newGroupsVendor()
				q.Propagators = []provider.LifecyclePropagator{duo}
				a := adminManager(t, q, st, clk)
				behind := &clock{t: clk.Now().Add(-2 * time.Second)}
				b := adminManager(t, q, st, behind)
				if _, err := a.CreateUser(ctx, "ops", lifecycle.UserInput{Name: "alice"}); err != nil {
					t.Fatal(err)
				}
				if typ == provider.EventGroupDelete {
					if _, err := a.UpdateUser(ctx, "ops", "alice", lifecycle.UserInput{Groups: &[]string{"eng"}}); err != nil {
						t.Fatal(err)
					}
				}
				drain(t, q)
				tick := func(d time.Duration) { clk.Advance(d); behind.Advance(d) }

				tick(time.Minute)
				g := ev("d1", typ, "", clk.Now())
				g.Group = "eng"
				if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{g}); err != nil {
					t.Fatal(err)
				}
				drain(t, q)

				tick(time.Second)
				if _, err := b.UpdateUser(ctx, "ops2", "alice", lifecycle.UserInput{Groups: &[]string{"eng"}}); err != nil {
					t.Fatal(err)
				}
				drain(t, q)
				u, err := a.GetUser(ctx, "alice")
				if err != nil || !slices.Equal(u.Groups, []string{"eng"}) {
					t.Fatalf("alice in emfa: %v, %v; want in eng", u.Groups, err)
				}
				duo.mu.Lock()
				defer duo.mu.Unlock()
				if got := duo.groups["alice"]; !slices.Equal(got, []string{"eng"}) {
					t.Errorf("alice's groups at the vendor: %q, want [eng] as in emfa (calls %q)", got, duo.calls)
				}
			})
		})
	}
}
