package storetest

import (
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testSyncQueuedAt: an event queued with its CreatedAt set (store.QueuedEvent.CreatedAt:
// the sync queue's clock, the store's when every process shares it) is queued at that
// time, not at the call's now: created, updated and due then, by EnqueueEvents and by a
// user change (store.UserChange.Queue) alike. An operator's change on a replica whose
// clock is 3 minutes ahead of the store's is dated by that clock; its propagation, queued
// at the store's time, is claimed at once by a worker whose clock is the store's, where
// it waited 3 minutes. One without CreatedAt is queued at the call's now, as before.
func testSyncQueuedAt(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	ahead := at(3 * time.Minute)
	prop := func(id, user string, queued time.Time) store.QueuedEvent {
		e := queuedEvent(store.PropagationSource("duo"), "user.disable", user, ahead)
		e.EventID, e.Key, e.Applied, e.CreatedAt = id, store.PropagationKey("duo", "user:"+user), true, queued
		return e
	}
	alice := store.User{ID: "u-alice", Name: "alice", CreatedAt: at(0)}
	must(t, "create", s.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Create: &alice, Now: ahead,
		Queue: []store.QueuedEvent{prop("admin:1", "alice", at(0))}}})[0])
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{prop("admin:2", "bob", at(0)), prop("admin:3", "carol", time.Time{})}, ahead); err != nil {
		t.Fatal(err)
	}
	evs, err := sq.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("duo")})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		want := at(0)
		if e.EventID == "admin:3" {
			want = ahead
		}
		if !e.CreatedAt.Equal(want) || !e.UpdatedAt.Equal(want) || !e.NextAt.Equal(want) {
			t.Errorf("%s queued: created %s, updated %s, due %s; want all %s", e.EventID, e.CreatedAt, e.UpdatedAt, e.NextAt, want)
		}
	}
	now := at(time.Second)
	got, err := sq.ClaimPropagations(ctx, "duo", "w", 10, now, now.Add(time.Minute))
	if err != nil || len(got) != 2 {
		t.Fatalf("claimed %q, %v at once; want alice's and bob's, queued at the store's time (carol's waits for its 3 minutes)", claimed(got), err)
	}
}
