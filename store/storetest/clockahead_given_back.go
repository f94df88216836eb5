package storetest

import (
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testGivenBackByAheadWorker: a propagation queued by a replica whose clock is an
// hour ahead, claimed by that replica's own worker a second later (by its clock) and given
// back untried (the worker stopping), is claimed at once by a worker whose clock is right.
// The claim had brought next_at back only to the claimer's now, which left next_at (the
// enqueue's time) a second before updated_at (the claim's): no longer "written due at once"
// by the claim's rule, the row was held for the hour, as the change was meant not to be.
func testGivenBackByAheadWorker(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	ahead := at(time.Hour)
	e := queuedEvent(store.PropagationSource("duo"), "user.disable", "bob", ahead)
	e.Key, e.Applied = store.PropagationKey("duo", e.Key), true
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{e}, ahead); err != nil {
		t.Fatal(err)
	}
	fast := ahead.Add(time.Second)
	got, err := sq.ClaimPropagations(ctx, "duo", "fast", 10, fast, fast.Add(time.Minute))
	if err != nil || len(got) != 1 {
		t.Fatalf("claimed by the worker an hour ahead: %q, %v; want bob's", claimed(got), err)
	}
	must(t, "give back", sq.ReleaseEvent(ctx, got[0].Seq, "fast", false))
	now := at(time.Second)
	if got, err := sq.ClaimPropagations(ctx, "duo", "w", 10, now, now.Add(time.Minute)); err != nil || len(got) != 1 {
		t.Fatalf("given back by the worker an hour ahead, claimed by a clock right: %q, %v; want bob's", claimed(got), err)
	}
}
