package storetest

import (
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testClaimAheadWriter: an event or propagation queued by a process whose clock
// is an hour ahead (a CLI's change, a replica's enqueue) is claimed by a worker whose
// clock is right at once, and again at once when that worker gives it back; one dated
// less than store.MaxFutureSkew ahead waits for its time, as one written by a clock a
// little ahead may. A backoff that a worker set, however long, and a hold still hold. A
// dead letter retried by a clock an hour ahead is claimed at once too.
func testClaimAheadWriter(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	ahead := at(time.Hour)
	duo := store.PropagationSource("duo")
	prop := func(user string) store.QueuedEvent {
		e := queuedEvent(duo, "user.disable", user, ahead)
		e.Key, e.Applied = store.PropagationKey("duo", e.Key), true
		return e
	}
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{prop("bob"), prop("carol"), queuedEvent("okta", "user.disable", "bob", ahead)}, ahead); err != nil {
		t.Fatal(err)
	}
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{prop("dave")}, at(store.MaxFutureSkew-time.Second)); err != nil {
		t.Fatal(err)
	}
	now := at(time.Second)
	got, err := sq.ClaimPropagations(ctx, "duo", "w", 10, now, now.Add(time.Minute))
	if err != nil || len(got) != 2 {
		t.Fatalf("propagations queued an hour ahead, claimed by a clock right: %q, %v; want bob's and carol's", claimed(got), err)
	}
	settled := now.Add(-2 * time.Second)
	evs, err := sq.ClaimEvents(ctx, "w", 10, now, now.Add(time.Minute), settled)
	if err != nil || len(evs) != 1 {
		t.Fatalf("an event queued an hour ahead: claimed %q, %v; want it", claimed(evs), err)
	}

	// bob's is given back (a worker stopping), carol's fails and waits a backoff as long
	// as a vendor may ask (MaxRetryAfter, an hour).
	must(t, "release", sq.ReleaseEvent(ctx, got[0].Seq, "w", false))
	must(t, "retry", sq.FinishEvent(ctx, got[1].Seq, "w", store.QueuePending, "vendor busy", false, now.Add(50*time.Minute), now))
	now = at(2 * time.Second)
	got, err = sq.ClaimPropagations(ctx, "duo", "w", 10, now, now.Add(time.Minute))
	if err != nil || len(got) != 1 || got[0].Key != store.PropagationKey("duo", "user:bob") {
		t.Fatalf("after bob's was given back and carol's failed: claimed %q, %v; want bob's alone", claimed(got), err)
	}
	must(t, "hold", sq.HoldEvent(ctx, got[0].Seq, "w", "behind its group", now.Add(10*time.Minute), now))
	now = at(store.MaxFutureSkew)
	got, err = sq.ClaimPropagations(ctx, "duo", "w", 10, now, now.Add(time.Minute))
	if err != nil || len(got) != 1 || got[0].Key != store.PropagationKey("duo", "user:dave") {
		t.Fatalf("at the time of dave's: claimed %q, %v; want dave's alone (bob's held, carol's backing off)", claimed(got), err)
	}
	must(t, "finish dave's", sq.FinishEvent(ctx, got[0].Seq, "w", store.QueueDone, "", false, time.Time{}, now))
	now = at(51 * time.Minute)
	if got, err := sq.ClaimPropagations(ctx, "duo", "w2", 10, now, now.Add(time.Minute)); err != nil || len(got) != 2 {
		t.Fatalf("after the hold and the backoff: claimed %q, %v; want bob's and carol's", claimed(got), err)
	}

	// A dead letter retried by a CLI whose clock is an hour ahead is due at once too.
	must(t, "dead-letter", sq.FinishEvent(ctx, evs[0].Seq, "w", store.QueueDead, "boom", false, time.Time{}, now))
	retry := store.AuditEvent{Time: now.Add(time.Hour), Resource: "admin.sync.retry", Outcome: "SUCCESS", Actor: "ops"}
	if n, err := sq.RetryDead(ctx, evs[0].Seq, now.Add(time.Hour), retry); err != nil || n != 1 {
		t.Fatalf("retry the dead letter: %d, %v", n, err)
	}
	now = at(52 * time.Minute)
	if evs, err := sq.ClaimEvents(ctx, "w", 10, now, now.Add(time.Minute), now.Add(-2*time.Second)); err != nil || len(evs) != 1 {
		t.Fatalf("a dead letter retried by a clock an hour ahead: claimed %q, %v; want it", claimed(evs), err)
	}
}
