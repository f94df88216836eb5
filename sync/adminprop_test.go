package sync_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// adminManager is the manager of the admin API and the CLI over q's store: its user
// changes queue their propagations through q (lifecycle.Options.Propagation).
func adminManager(t *testing.T, q *sync.Queue, st store.Store, clk *clock) *lifecycle.Manager {
	t.Helper()
	m, err := lifecycle.New(lifecycle.Options{Store: st, Now: clk.Now, Propagation: q})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// propagations lists the queue's propagations to target, as "event-type state".
func propagations(t *testing.T, q *sync.Queue, target string) []string {
	t.Helper()
	evs, err := q.Store.ListEvents(context.Background(), store.QueueFilter{Source: store.PropagationSource(target), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type+" "+e.State)
	}
	return out
}

// TestAdminChangesReachTheVendors: a user created, updated, disabled, enabled and deleted
// through the admin API's and the CLI's manager reaches the vendor as a directory's
// change does: its propagations are queued in the change's own commit (there before any
// worker runs, so a process killed right after the answer loses none), and a worker of
// another process carries them out, in order. A change refused queues nothing.
func TestAdminChangesReachTheVendors(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		m := adminManager(t, q, st, clk)
		actor := lifecycle.Actor("ops-token")

		groups := []string{"sms-allowed"}
		if _, err := m.CreateUser(ctx, actor, lifecycle.UserInput{Name: "alice", Email: str("alice@example.com"), Groups: &groups}); err != nil {
			t.Fatal(err)
		}
		// Queued with the user, before any worker ran.
		if got, want := propagations(t, q, "duo"), []string{"user.create pending", "group.member.add pending"}; !slices.Equal(got, want) {
			t.Fatalf("after the create, queued %q, want %q", got, want)
		}
		// Refused changes queue nothing: a name taken, a stale revision, a bad phone.
		if _, err := m.CreateUser(ctx, actor, lifecycle.UserInput{Name: "ALICE"}); err == nil {
			t.Fatal("a second alice was created")
		}
		stale := int64(42)
		if _, err := m.UpdateUser(ctx, actor, "alice", lifecycle.UserInput{DisplayName: str("A"), IfRevision: &stale}); err == nil {
			t.Fatal("an update on a stale revision applied")
		}
		if _, err := m.UpdateUser(ctx, actor, "alice", lifecycle.UserInput{Phone: str("555")}); err == nil {
			t.Fatal("an invalid phone was taken")
		}
		if _, err := m.SetUserStateAt(ctx, actor, "alice", true, "", stale); err == nil {
			t.Fatal("a disable on a stale revision applied")
		}
		if err := m.DeleteUser(ctx, actor, "nobody"); err == nil {
			t.Fatal("deleted nobody")
		}
		if got := propagations(t, q, "duo"); len(got) != 2 {
			t.Fatalf("refused changes queued propagations: %q", got)
		}
		// A change that changes nothing queues nothing either.
		if _, err := m.UpdateUser(ctx, actor, "alice", lifecycle.UserInput{Email: str("alice@example.com")}); err != nil {
			t.Fatal(err)
		}
		if got := propagations(t, q, "duo"); len(got) != 2 {
			t.Fatalf("an update that changed nothing queued propagations: %q", got)
		}

		// Another process's worker (a restart: another queue, another owner) carries them.
		worker := (&sync.Queue{Store: q.Store, Applier: q.Applier, Now: clk.Now, Propagators: []provider.LifecyclePropagator{duo}}).Init()
		if _, err := worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := duo.got(), []string{"user.create alice", "group.member.add alice"}; !slices.Equal(got, want) {
			t.Fatalf("the vendor got %q, want %q", got, want)
		}

		// An update of the profile with the state, a membership removed, the state alone.
		none := []string{}
		if _, err := m.UpdateUser(ctx, actor, "alice", lifecycle.UserInput{DisplayName: str("Alice"), State: str(lifecycle.StateDisabled), Groups: &none}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetUserState(ctx, actor, "alice", false); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetUserState(ctx, actor, "alice", true); err != nil {
			t.Fatal(err)
		}
		if err := m.DeleteUser(ctx, actor, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		want := []string{"user.create alice", "group.member.add alice",
			"user.update alice", "group.member.remove alice", "user.enable alice", "user.disable alice", "user.delete alice"}
		if got := duo.got(); !slices.Equal(got, want) {
			t.Fatalf("the vendor got %q, want %q", got, want)
		}
		// The admin's audit rows keep their actor; the directory's actor is nowhere.
		page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: "alice", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if ev.Actor != string(actor) {
				t.Errorf("audit %s by %q, want %q", ev.Action, ev.Actor, actor)
			}
		}

		// The directory's own events are propagated once, by the queue, not again by the
		// manager that applies them (the Applier's has no propagation).
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("o1", provider.EventUserCreate, "bob", clk.Now())}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if _, err := worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if got := duo.got(); len(got) != len(want)+1 || got[len(want)] != "user.create bob" {
			t.Fatalf("the vendor got %q after a directory's create", got)
		}
	})
}

// TestAdminChangesWithoutVendorsQueueNothing: with no vendor to propagate to, an admin's
// change adds no row to the queue.
func TestAdminChangesWithoutVendorsQueueNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		m := adminManager(t, q, st, clk)
		if _, err := m.CreateUser(ctx, "cli", lifecycle.UserInput{Name: "carol"}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetUserState(ctx, "cli", "carol", true); err != nil {
			t.Fatal(err)
		}
		if err := m.DeleteUser(ctx, "cli", "carol"); err != nil {
			t.Fatal(err)
		}
		evs, err := q.Store.ListEvents(ctx, store.QueueFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 0 {
			t.Fatalf("queued %d rows with no vendor", len(evs))
		}
	})
}

// TestAdminDeletionsNotHeldByTheGuard: the deletion guard holds a directory's deletions,
// not an operator's: admin deletions apply and propagate whatever the count, and count
// towards no source's pause.
func TestAdminDeletionsNotHeldByTheGuard(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		q.MaxDeletesPerHour = 1
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		m := adminManager(t, q, st, clk)
		for _, n := range []string{"u1", "u2", "u3"} {
			if _, err := m.CreateUser(ctx, "cli", lifecycle.UserInput{Name: n}); err != nil {
				t.Fatal(err)
			}
			if err := m.DeleteUser(ctx, "cli", n); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		deletes := slices.DeleteFunc(duo.got(), func(s string) bool { return s[:len("user.delete")] != "user.delete" })
		if len(deletes) != 3 {
			t.Fatalf("the vendor got deletes %q, want 3", deletes)
		}
		st2, err := q.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st2.Paused) != 0 {
			t.Fatalf("paused %v by an operator's deletions", st2.Paused)
		}
		if err := q.AllowDelete(ctx, "okta", 0); errors.Is(err, sync.ErrPaused) {
			t.Fatal("an operator's deletions counted towards okta's guard")
		}
	})
}

// TestAdminResetReachesTheVendors: an admin's reset of a user's factors (the admin API's
// POST /users/{user}/reset, the CLI's) is propagated as user.mfa.reset, queued in the
// reset's own commit as the other admin changes are; a reset refused queues nothing; and a
// directory's reset, propagated by the queue that applies it, is propagated once.
func TestAdminResetReachesTheVendors(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		m := adminManager(t, q, st, clk)
		if _, err := m.CreateUser(ctx, "ops-token", lifecycle.UserInput{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.ResetUser(ctx, "ops-token", "ALICE", lifecycle.ResetDisable); err != nil {
			t.Fatal(err)
		}
		if got, want := propagations(t, q, "duo"), []string{"user.create pending", "user.mfa.reset pending"}; !slices.Equal(got, want) {
			t.Fatalf("after the reset, queued %q, want %q", got, want)
		}
		// Refused: an unknown mode, an unknown user.
		if _, err := m.ResetUser(ctx, "ops-token", "alice", "explode"); err == nil {
			t.Fatal("a reset of mode explode was made")
		}
		if _, err := m.ResetUser(ctx, "ops-token", "nobody", ""); err == nil {
			t.Fatal("reset nobody")
		}
		if got := propagations(t, q, "duo"); len(got) != 2 {
			t.Fatalf("refused resets queued propagations: %q", got)
		}
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		// The vendor is told the name as the user has it.
		if got, want := duo.got(), []string{"user.create alice", "user.mfa.reset alice"}; !slices.Equal(got, want) {
			t.Fatalf("the vendor got %q, want %q", got, want)
		}

		// A directory's reset is applied by the queue's manager and propagated by the
		// queue: once.
		clk.Advance(time.Second)
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("o1", provider.EventUserMFAReset, "alice", clk.Now())}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := duo.got(), []string{"user.create alice", "user.mfa.reset alice", "user.mfa.reset alice"}; !slices.Equal(got, want) {
			t.Fatalf("after a directory's reset the vendor got %q, want %q", got, want)
		}
		if got := propagations(t, q, "duo"); len(got) != 3 {
			t.Fatalf("queued %q, want 3 propagations", got)
		}
	})
}

// TestAdminChangesOrderedBeforeLateDirectoryEvents: an admin's change sets the ordering
// marks a directory's event of the same aspects would, at the time of the change, so
// that a directory event dated before it, delivered late, does not undo it in emfa
// (while its propagation, sent after the admin's, would undo it at the vendor); a
// directory event dated after it applies as usual.
func TestAdminChangesOrderedBeforeLateDirectoryEvents(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		m := adminManager(t, q, st, clk)
		start := clk.Now()
		if _, err := m.CreateUser(ctx, "ops-token", lifecycle.UserInput{Name: "alice", Email: str("old@example.com")}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(10 * time.Second)
		// The operator disables alice and changes her e-mail at start+10s.
		if _, err := m.UpdateUser(ctx, "ops-token", "alice", lifecycle.UserInput{Email: str("ops@example.com"), State: str(lifecycle.StateDisabled)}); err != nil {
			t.Fatal(err)
		}
		// The directory's events of start+5s arrive after it: they change nothing.
		enable := ev("o1", provider.EventUserEnable, "alice", start.Add(5*time.Second))
		upd := ev("o2", provider.EventUserUpdate, "alice", start.Add(6*time.Second))
		upd.Email = str("dir@example.com")
		// Each aspect is ordered by itself, as for a directory's events: a deletion dated
		// before the admin's creation changes nothing either.
		del := ev("o3", provider.EventUserDelete, "alice", start.Add(-time.Second))
		// A directory event of start+20s applies.
		name := ev("o4", provider.EventUserUpdate, "alice", start.Add(20*time.Second))
		name.DisplayName = str("Alice")
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{enable, upd, del, name}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		u, err := m.GetUser(ctx, "alice")
		if err != nil {
			t.Fatalf("alice: %v (a late deletion undid the admin's change)", err)
		}
		if u.State != lifecycle.StateDisabled || u.Email != "ops@example.com" || u.DisplayName != "Alice" {
			t.Fatalf("alice is %s, %q, %q; want disabled, ops@example.com (the admin's), Alice (the newer directory's)", u.State, u.Email, u.DisplayName)
		}
		// Neither did the late events reach the vendor after the admin's.
		for _, g := range duo.got() {
			if g == "user.enable alice" || g == "user.delete alice" {
				t.Errorf("the vendor got the late %q", g)
			}
		}
		// A directory event dated after an admin's deletion creates the user again; one
		// dated before it does not.
		clk.Advance(time.Minute)
		if err := m.DeleteUser(ctx, "ops-token", "alice"); err != nil {
			t.Fatal(err)
		}
		late := ev("o5", provider.EventUserCreate, "alice", clk.Now().Add(-time.Second))
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{late}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.GetUser(ctx, "alice"); err == nil {
			t.Fatal("a create dated before the admin's deletion created alice again")
		}
		if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("o6", provider.EventUserCreate, "alice", clk.Now())}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.GetUser(ctx, "alice"); err != nil {
			t.Fatalf("a create dated after the admin's deletion: %v", err)
		}
	})
}

// TestAdminPropagationsCarryTheActor: an admin's propagation carries the actor of the
// change (the admin token's name, cli) and the id of the request that made it, for the
// vendor's calls to be audited with them; a directory's carries neither actor nor a
// request id it was not queued with.
func TestAdminPropagationsCarryTheActor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		m := adminManager(t, q, st, clk)
		ctx := lifecycle.WithRequestID(context.Background(), "req-42")
		if _, err := m.CreateUser(ctx, "ops-token", lifecycle.UserInput{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.ResetUser(ctx, "ops-token", "alice", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetUserState(context.Background(), "cli", "alice", true); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Enqueue(context.Background(), []provider.LifecycleEvent{ev("o1", provider.EventUserCreate, "bob", clk.Now())}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if _, err := q.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range duo.given() {
			got = append(got, e.Type+" "+e.Username+" "+e.Source+" "+e.Actor+" "+e.RequestID)
		}
		slices.Sort(got) // bob's and alice's come in no order between them
		want := []string{"user.create alice admin ops-token req-42", "user.create bob okta  ", "user.disable alice admin cli ", "user.mfa.reset alice admin ops-token req-42"}
		if !slices.Equal(got, want) {
			t.Fatalf("the vendor got %q, want %q", got, want)
		}
	})
}
