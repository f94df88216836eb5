package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testSyncUserChangeQueue: the queue events a user change carries (store.UserChange.Queue,
// the propagations of an admin's change) are written in the change's commit, as given
// (pending, applied): a change that fails writes none of them, one queued before (by
// source and id) is not queued again, and they are claimed by their target's workers,
// never as events to apply.
func testSyncUserChangeQueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	prop := func(id, typ string) store.QueuedEvent {
		return store.QueuedEvent{Source: store.PropagationSource("duo"), EventID: "admin:" + id, Key: store.PropagationKey("duo", "user:alice"),
			Type: typ, Time: at(0), Body: []byte(`{}`), Applied: true}
	}
	alice := store.User{ID: "u-alice", Name: "alice", CreatedAt: at(0)}
	must(t, "create", s.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Create: &alice, Now: at(0),
		Queue: []store.QueuedEvent{prop("1", "user.create")}}})[0])
	// The name is taken: the change fails, and so its row is not written; the change
	// beside it in the batch writes its own.
	again := store.User{ID: "u-alice-2", Name: "ALICE", CreatedAt: at(0)}
	disabled := true
	errs := s.ApplyUserChanges(ctx, []store.UserChange{
		{Name: "ALICE", Create: &again, Now: at(time.Millisecond), Queue: []store.QueuedEvent{prop("2", "user.create")}},
		{Name: "alice", Disabled: &disabled, Now: at(time.Millisecond), Queue: []store.QueuedEvent{prop("1", "user.create"), prop("3", "user.disable")}},
	})
	if !errors.Is(errs[0], store.ErrExists) || errs[1] != nil {
		t.Fatalf("ApplyUserChanges = %v, want ErrExists for the second create and nil for the disable", errs)
	}
	// A stale revision fails the change and its row.
	stale := int64(99)
	if err := s.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Disabled: &disabled, IfRevision: &stale, Now: at(2 * time.Millisecond),
		Queue: []store.QueuedEvent{prop("4", "user.disable")}}})[0]; !errors.Is(err, store.ErrStale) {
		t.Fatalf("a change on a stale revision: %v, want ErrStale", err)
	}
	evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("duo")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.State != store.QueuePending || !e.Applied {
			t.Errorf("%s is %s (applied %v), want pending, applied", e.EventID, e.State, e.Applied)
		}
		got = append(got, e.EventID+" "+e.Type)
	}
	if want := []string{"admin:1 user.create", "admin:3 user.disable"}; !slices.Equal(got, want) {
		t.Fatalf("queued %q, want %q", got, want)
	}
	if evs, err := sq.ClaimEvents(ctx, "w", 10, at(time.Second), at(time.Minute), at(time.Second)); err != nil || len(evs) != 0 {
		t.Fatalf("ClaimEvents = %v, %v: a propagation is no event to apply", claimed(evs), err)
	}
	claim, err := sq.ClaimPropagations(ctx, "duo", "w", 10, at(time.Second), at(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(claim) != 1 || claim[0].EventID != "admin:1" {
		t.Fatalf("ClaimPropagations = %q, want the user's first, admin:1", claimed(claim))
	}
}

// testSyncUserChangeMarks: the ordering marks a user change carries (store.UserChange.Marks,
// an admin's change's) move to the change's time in its commit, as MarkKeys moves them:
// never back, and not at all when the change fails.
func testSyncUserChangeMarks(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	mark := func(key string) time.Time {
		t.Helper()
		m, err := sq.KeyMark(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	alice := store.User{ID: "u-alice", Name: "alice", CreatedAt: at(0)}
	must(t, "create", s.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Create: &alice, Now: at(time.Second),
		Marks: []string{"user:alice", "user:alice/state"}}})[0])
	if got := mark("user:alice"); !got.Equal(at(time.Second)) {
		t.Fatalf("mark after the create = %v, want %v", got, at(time.Second))
	}
	disabled := true
	stale := int64(99)
	errs := s.ApplyUserChanges(ctx, []store.UserChange{
		// Fails: its marks are not written.
		{Name: "alice", Disabled: &disabled, IfRevision: &stale, Now: at(5 * time.Second), Marks: []string{"user:alice/state", "user:alice/profile"}},
		// Older than the mark: the mark stays.
		{Name: "alice", Disabled: &disabled, Now: at(time.Millisecond), Marks: []string{"user:alice/state"}},
		{Name: "alice", Disabled: &disabled, Now: at(3 * time.Second), Marks: []string{"user:alice/group:sms"}},
	})
	if !errors.Is(errs[0], store.ErrStale) || errs[1] != nil || errs[2] != nil {
		t.Fatalf("ApplyUserChanges = %v, want ErrStale, nil, nil", errs)
	}
	for key, want := range map[string]time.Time{
		"user:alice": at(time.Second), "user:alice/state": at(time.Second), "user:alice/profile": {}, "user:alice/group:sms": at(3 * time.Second),
	} {
		if got := mark(key); !got.Equal(want) {
			t.Errorf("mark %s = %v, want %v", key, got, want)
		}
	}
	// LatestMark reads the latest of several in one: none of them marked is the zero time.
	for _, c := range []struct {
		keys []string
		want time.Time
	}{
		{[]string{"user:alice/profile", "user:alice", "user:alice/group:sms"}, at(3 * time.Second)},
		{[]string{"user:alice/state"}, at(time.Second)},
		{[]string{"user:alice/profile", "user:bob"}, time.Time{}},
		{nil, time.Time{}},
	} {
		got, err := sq.LatestMark(ctx, c.keys)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("LatestMark(%q) = %v, %v; want %v", c.keys, got, err, c.want)
		}
	}
}
