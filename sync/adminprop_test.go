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
		if _, err := m.SetUserStateAt(ctx, actor, "alice", true, stale); err == nil {
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
		if err := q.AllowDelete(ctx, "okta", clk.Now()); errors.Is(err, sync.ErrPaused) {
			t.Fatal("an operator's deletions counted towards okta's guard")
		}
	})
}
