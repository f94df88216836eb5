package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestOperatorChangeNotUndoneByOlderEventMeanwhile: an operator's change committed
// while the worker applies a directory's older event of the same aspect (after the
// worker checked the ordering marks, before its write) is not undone by it: "the user an
// operator disabled is not enabled again by an older unsuspend, nor an e-mail an operator
// corrected put back by an older update". The worker checked the marks once, before it
// read and wrote the user, and applied the older event over the operator's change; the
// vendor, told the operator's change last, kept it, and the two disagreed.
func TestOperatorChangeNotUndoneByOlderEventMeanwhile(t *testing.T) {
	for _, c := range []struct {
		name  string
		start lifecycle.UserInput // alice, as created
		event func(at time.Time) provider.LifecycleEvent
		op    func(ctx context.Context, m *lifecycle.Manager) error
		check func(u lifecycle.User) bool
	}{
		// The operator enables alice and disables her again (its last change is the
		// one an older enable must not undo).
		{"state", lifecycle.UserInput{State: str(lifecycle.StateDisabled)},
			func(at time.Time) provider.LifecycleEvent { return ev("o1", provider.EventUserEnable, "alice", at) },
			func(ctx context.Context, m *lifecycle.Manager) error {
				if _, err := m.SetUserState(ctx, "ops-token", "alice", false); err != nil {
					return err
				}
				_, err := m.SetUserState(ctx, "ops-token", "alice", true)
				return err
			},
			func(u lifecycle.User) bool { return u.State == lifecycle.StateDisabled }},
		{"profile", lifecycle.UserInput{},
			func(at time.Time) provider.LifecycleEvent {
				e := ev("o1", provider.EventUserUpdate, "alice", at)
				e.Email = str("dir@example.com")
				return e
			},
			func(ctx context.Context, m *lifecycle.Manager) error {
				_, err := m.UpdateUser(ctx, "ops-token", "alice", lifecycle.UserInput{Email: str("ops@example.com")})
				return err
			},
			func(u lifecycle.User) bool { return u.Email == "ops@example.com" }},
		{"membership", lifecycle.UserInput{Groups: &[]string{"staff"}},
			func(at time.Time) provider.LifecycleEvent {
				e := ev("o1", provider.EventGroupMemberRemove, "alice", at)
				e.Group = "staff"
				return e
			},
			func(ctx context.Context, m *lifecycle.Manager) error {
				if _, err := m.UpdateUser(ctx, "ops-token", "alice", lifecycle.UserInput{Groups: &[]string{}}); err != nil {
					return err
				}
				_, err := m.UpdateUser(ctx, "ops-token", "alice", lifecycle.UserInput{Groups: &[]string{"staff"}})
				return err
			},
			func(u lifecycle.User) bool { return len(u.Groups) == 1 && u.Groups[0] == "staff" }},
		// An older event of another aspect still applies, on the user as the operator
		// left it.
		{"another aspect", lifecycle.UserInput{},
			func(at time.Time) provider.LifecycleEvent { return ev("o1", provider.EventUserDisable, "alice", at) },
			func(ctx context.Context, m *lifecycle.Manager) error {
				_, err := m.UpdateUser(ctx, "ops-token", "alice", lifecycle.UserInput{Email: str("ops@example.com")})
				return err
			},
			func(u lifecycle.User) bool { return u.Email == "ops@example.com" && u.State == lifecycle.StateDisabled }},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
				hooked := &testdb.BeforeUserChanges{Store: st}
				qm, err := lifecycle.New(lifecycle.Options{Store: hooked, Now: clk.Now})
				if err != nil {
					t.Fatal(err)
				}
				sq := st.(store.SyncQueue)
				q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: qm, Groups: sq, Now: clk.Now}, Now: clk.Now}).Init()
				duo := newVendor("duo")
				q.Propagators = []provider.LifecyclePropagator{duo}
				ops := adminManager(t, q, st, clk)
				start := clk.Now()
				in := c.start
				in.Name, in.Email = "alice", str("old@example.com")
				if _, err := ops.CreateUser(ctx, "ops-token", in); err != nil {
					t.Fatal(err)
				}
				// The directory's event of start+5s, delivered late.
				if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{c.event(start.Add(5 * time.Second))}); err != nil {
					t.Fatal(err)
				}
				clk.Advance(10 * time.Second)
				// The operator's change, at start+10s, lands as the worker applies it.
				hooked.Before = func() {
					if err := c.op(ctx, ops); err != nil {
						t.Fatal(err)
					}
				}
				clk.Advance(time.Minute)
				if _, err := q.Drain(ctx); err != nil {
					t.Fatal(err)
				}
				if hooked.Before != nil {
					t.Fatal("the worker wrote no user")
				}
				u, err := ops.GetUser(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				if !c.check(u) {
					t.Fatalf("alice is %s, %q, %v: the directory's older event undid the operator's newer change", u.State, u.Email, u.Groups)
				}
			})
		})
	}
}

// TestStateChangesAtOnceReachTheVendorInTheirOrder: an operator's disable, and
// another's disable then enable of the same user made meanwhile (the admin API and the
// CLI, two replicas), the first disable dated first but committed last, leave the user
// disabled in emfa, and so at the vendor. A state change was written on no revision,
// dated before its commit, so the vendor was told the changes in the order of their
// dates, not the one emfa applied them in: the last disable, older than the enable's
// mark, was skipped, and the vendor kept the user active while emfa had it disabled.
func TestStateChangesAtOnceReachTheVendorInTheirOrder(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		hooked := &testdb.BeforeUserChanges{Store: st}
		api := adminManager(t, q, hooked, clk)
		cli := adminManager(t, q, st, clk)
		if _, err := api.CreateUser(ctx, "ops-token", lifecycle.UserInput{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		hooked.Before = func() {
			for _, disabled := range []bool{true, false} {
				clk.Advance(time.Second)
				if _, err := cli.SetUserState(ctx, "cli", "alice", disabled); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(time.Second)
		}
		if _, err := api.SetUserState(ctx, "ops-token", "alice", true); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		inEmfa := userState(t, api, "alice")
		if got := duo.state("alice"); got != inEmfa {
			t.Fatalf("alice is %s in emfa and %s at the vendor (told %v)", inEmfa, got, duo.got())
		}
	})
}
