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

// queueOn is a queue on qs whose applier's manager writes through st (a store with a hook,
// testdb.BeforeUserChanges), dated by clk.
func queueOn(t *testing.T, st store.Store, qs store.SyncQueue, clk *clock) *sync.Queue {
	t.Helper()
	m, err := lifecycle.New(lifecycle.Options{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return (&sync.Queue{Store: qs, Applier: &sync.Applier{M: m, Groups: qs, Now: clk.Now}, Now: clk.Now}).Init()
}

// beforeAllowDelete is a queue store whose next check of a deletion against the guard
// (Queue.AllowDelete) first runs before (once): after the worker checked the deletion's
// order, before it applies it.
type beforeAllowDelete struct {
	store.SyncQueue
	before func()
}

func (s *beforeAllowDelete) ResumedAfter(ctx context.Context, source string) (int64, error) {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.SyncQueue.ResumedAfter(ctx, source)
}

// When the directory's newer event lands, in TestDirectoryEventNotUndoneMeanwhile.
const (
	beforeWrite = iota // after the worker checked the older event's order, before its write
	between            // after the newer's commit, before what follows it: the worker checks then
	beforeAllow        // after the worker checked the older deletion's order, before its guard
)

// TestDirectoryEventNotUndoneMeanwhile: a directory's event applied at once (a SCIM
// request's, ApplyNow) is the newest word on what it changes, whatever a worker applying
// the directory's older event of the same aspect of the user does meanwhile:
//
//   - the event changes nothing (alice has what it says), and lands after the worker
//     checked the ordering marks and before its write: it wrote nothing, the user's
//     revision stayed, and the worker's write, on the revision it read, went through:
//     the older event undid the newer (an Okta disable older than a SCIM enable left
//     alice disabled);
//   - the worker checks between the event's commit and the commit of its marks, which
//     came after: it read the revision the event left and the marks from before it, and
//     applied the older event over the newer;
//   - the event is a create of alice, and the worker's older event a delete: the delete
//     was made on no revision, whether it found alice or not, and deleted her.
//
// The event's marks move in the commit of its change, and an event that changes nothing
// is written all the same, on the revision read, which it moves: the worker's write is
// refused, checked again and left out as older.
func TestDirectoryEventNotUndoneMeanwhile(t *testing.T) {
	enable := provider.LifecycleEvent{Type: provider.EventUserEnable, Source: "scim", Username: "alice"}
	add := provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Source: "scim", Username: "alice", Group: "eng"}
	update := provider.LifecycleEvent{Type: provider.EventUserUpdate, Source: "scim", Username: "alice", Email: str("alice@example.com")}
	create := provider.LifecycleEvent{Type: provider.EventUserCreate, Source: "okta", Username: "alice", Email: str("alice@example.com")}
	older := func(typ string) provider.LifecycleEvent { return ev("o1", typ, "alice", time.Time{}) }
	olderUpdate := older(provider.EventUserUpdate)
	olderUpdate.Email = str("old@example.com")
	olderRemove := older(provider.EventGroupMemberRemove)
	olderRemove.Group = "eng"
	state := func(want string) func(lifecycle.User) bool {
		return func(u lifecycle.User) bool { return u.State == want }
	}
	for _, c := range []struct {
		name  string
		alice lifecycle.UserInput     // Name "-": none
		older provider.LifecycleEvent // the directory's, applied by the worker
		newer provider.LifecycleEvent // the directory's, applied at once
		when  int
		holds func(lifecycle.User) bool
	}{
		{"an enable of an active user", lifecycle.UserInput{}, older(provider.EventUserDisable), enable, beforeWrite, state(lifecycle.StateActive)},
		{"an enable of an active user, the worker between", lifecycle.UserInput{}, older(provider.EventUserDisable), enable, between, state(lifecycle.StateActive)},
		{"an enable of a disabled user", lifecycle.UserInput{State: str(lifecycle.StateDisabled)}, older(provider.EventUserDisable), enable, between, state(lifecycle.StateActive)},
		{"an add of a member", lifecycle.UserInput{Groups: &[]string{"eng"}}, olderRemove, add, beforeWrite,
			func(u lifecycle.User) bool { return slices.Contains(u.Groups, "eng") }},
		{"an update to the address held", lifecycle.UserInput{Email: str("alice@example.com")}, olderUpdate, update, beforeWrite,
			func(u lifecycle.User) bool { return u.Email == "alice@example.com" }},
		{"a create of a user who exists, with the address held", lifecycle.UserInput{Email: str("alice@example.com")}, olderUpdate, create, beforeWrite,
			func(u lifecycle.User) bool { return u.Email == "alice@example.com" }},
		{"a create of a user who exists, before a delete", lifecycle.UserInput{Email: str("alice@example.com")}, older(provider.EventUserDelete), create, beforeWrite,
			func(u lifecycle.User) bool { return u.Email == "alice@example.com" }},
		{"a create of a user the delete found gone", lifecycle.UserInput{Name: "-"}, older(provider.EventUserDelete), create, beforeAllow,
			func(u lifecycle.User) bool { return u.Email == "alice@example.com" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
				sq := st.(store.SyncQueue)
				hooked, after := &testdb.BeforeUserChanges{Store: st}, &testdb.AfterUserChanges{Store: st}
				allow := &beforeAllowDelete{SyncQueue: sq}
				worker, scim := queueOn(t, hooked, allow, clk), queueOn(t, after, sq, clk)
				m := scim.Applier.M
				if in := c.alice; in.Name == "" {
					in.Name = "alice"
					if _, err := m.CreateUser(ctx, "test", in); err != nil {
						t.Fatal(err)
					}
				}
				o := c.older
				o.Time = clk.Now().Add(5 * time.Second)
				if _, err := worker.Enqueue(ctx, []provider.LifecycleEvent{o}); err != nil {
					t.Fatal(err)
				}
				clk.Advance(time.Minute)
				newer := func() {
					if err := scim.ApplyNow(ctx, c.newer); err != nil {
						t.Error(err)
					}
				}
				switch c.when {
				case between:
					after.After = func() { drain(t, worker) }
					newer()
				case beforeWrite:
					hooked.Before = newer
					drain(t, worker)
				case beforeAllow:
					allow.before = newer
					drain(t, worker)
				}
				u, err := m.GetUser(ctx, "alice")
				if err != nil {
					t.Fatalf("alice: %v, want her as the newer %s left her", err, c.newer.Type)
				}
				if !c.holds(u) {
					t.Errorf("alice %+v: the older %s undid the newer %s", u, c.older.Type, c.newer.Type)
				}
			})
		})
	}
}
