package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestAdminChangeOnReplicaBehind: an operator's change made on a replica whose clock
// is 2 s behind, after another operator's change or a directory's event of the same aspect
// made on another replica, is the later one (README: "ordered with the directory's events
// as if it were one of them, dated when emfa commits it"): emfa and the vendor both end as
// it left the user. Before, its propagation carried the slow replica's time, older than
// the mark the earlier change left, and was dropped as "older than a change of the user
// applied since": emfa said enabled, the vendor disabled.
func TestAdminChangeOnReplicaBehind(t *testing.T) {
	for _, first := range []string{"operator", "directory"} {
		t.Run(first, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				q, _, clk := newQueue(t, st)
				duo := newVendor("duo")
				q.Propagators = []provider.LifecyclePropagator{duo}
				a := adminManager(t, q, st, clk) // the replica whose clock is right
				behind := &clock{t: clk.Now().Add(-2 * time.Second)}
				b := adminManager(t, q, st, behind) // the replica 2 s behind
				if _, err := a.CreateUser(ctx, "ops", lifecycle.UserInput{Name: "alice"}); err != nil {
					t.Fatal(err)
				}
				drain(t, q)
				tick := func(d time.Duration) { clk.Advance(d); behind.Advance(d) }

				tick(time.Minute)
				switch first {
				case "operator":
					if _, err := a.SetUserState(ctx, "ops", "alice", true); err != nil {
						t.Fatal(err)
					}
				case "directory":
					if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("d1", provider.EventUserDisable, "alice", clk.Now())}); err != nil {
						t.Fatal(err)
					}
				}
				drain(t, q)
				if got := duo.state("alice"); got != "disabled" {
					t.Fatalf("after the disable the vendor has alice %s", got)
				}

				tick(time.Second) // a second later, on the replica whose clock says a second earlier
				if _, err := b.SetUserState(ctx, "ops2", "alice", false); err != nil {
					t.Fatal(err)
				}
				drain(t, q)
				if got := userState(t, a, "alice"); got != lifecycle.StateActive {
					t.Errorf("emfa has alice %s, want %s", got, lifecycle.StateActive)
				}
				if got := duo.state("alice"); got != "active" {
					t.Errorf("the vendor has alice %s after the later enable, want active (calls %q)", got, duo.got())
				}
			})
		})
	}
}

// TestResumeOnReplicaAhead: an operator resumes a paused source on a replica whose
// clock is 2 s ahead; a second later the directory sends three more deletions to another
// replica. The resumption approves the deletions held when it was made, and the guard
// counts afresh from it (README: the deletion guard): with a limit of one an hour, the
// three new ones pause the source again.
func TestResumeOnReplicaAhead(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		q.MaxDeletesPerHour = 1
		ahead, _, aclk := newQueue(t, st)
		aclk.Advance(2 * time.Second)
		for _, n := range []string{"d0", "d1", "d2", "d3", "d4"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("0", provider.EventUserDelete, "d0", clk.Now()), ev("1", provider.EventUserDelete, "d1", clk.Now())})
		drain(t, q)
		if s, _ := q.Status(ctx); len(s.Paused) != 1 {
			t.Fatalf("not paused: %+v", s)
		}
		if err := ahead.Resume(ctx, "ops", "okta"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		aclk.Advance(time.Second)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("2", provider.EventUserDelete, "d2", clk.Now()),
			ev("3", provider.EventUserDelete, "d3", clk.Now()), ev("4", provider.EventUserDelete, "d4", clk.Now())})
		drain(t, q)
		if userState(t, m, "d1") != "unknown" {
			t.Error("the deletion held when the operator resumed was not applied")
		}
		if s, _ := q.Status(ctx); len(s.Paused) != 1 {
			t.Errorf("three deletions queued after the resumption, limit one an hour, and no pause: %+v", s)
		}
	})
}

// TestSCIMChangeOnReplicaBehind: SCIM's changes carry no time of their own and are
// dated when a replica receives them. A SCIM client disables a user through one replica,
// then enables it a second later through another whose clock is 2 s behind: emfa and the
// vendor both end with the user active. Before, the enable was dated before the disable's
// mark: applied in emfa, but its propagation dropped as older, so the vendor kept the user
// disabled.
func TestSCIMChangeOnReplicaBehind(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		b, _, bclk := newQueue(t, st)
		b.Propagators = []provider.LifecyclePropagator{duo}
		bclk.Advance(-2 * time.Second)
		scim := func(q interface {
			ApplyNow(context.Context, ...provider.LifecycleEvent) error
		}, id, typ string) {
			t.Helper()
			if err := q.ApplyNow(ctx, provider.LifecycleEvent{ID: id, Type: typ, Source: "scim", Username: "alice"}); err != nil {
				t.Fatal(err)
			}
		}
		scim(q, "s1", provider.EventUserCreate)
		drain(t, q)
		clk.Advance(time.Minute)
		bclk.Advance(time.Minute)
		scim(q, "s2", provider.EventUserDisable)
		drain(t, q)
		if got := duo.state("alice"); got != "disabled" {
			t.Fatalf("after the disable the vendor has alice %s", got)
		}
		clk.Advance(time.Second)
		bclk.Advance(time.Second)
		scim(b, "s3", provider.EventUserEnable)
		drain(t, q)
		if got := userState(t, m, "alice"); got != lifecycle.StateActive {
			t.Errorf("emfa has alice %s, want %s", got, lifecycle.StateActive)
		}
		if got := duo.state("alice"); got != "active" {
			t.Errorf("the vendor has alice %s after the later enable, want active (calls %q)", got, duo.got())
		}
	})
}
