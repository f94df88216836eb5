package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testAllowApplying: the deletion guard's count and record (AllowApplying)
// counts the deletions applied since and those allowed since, not the one it is asked
// for, allows one under max and records it, allows it again uncounted (a retry of its
// apply), refuses at max, counts only those queued after afterSeq, and refuses an event
// not leased to the owner.
func testAllowApplying(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	var evs []store.QueuedEvent
	for _, u := range []string{"a", "b", "c"} {
		evs = append(evs, queuedEvent("okta", "user.delete", u, at(0)))
	}
	seqs, err := sq.EnqueueLeased(ctx, evs, "w", at(time.Hour), at(0))
	if err != nil {
		t.Fatal(err)
	}
	since := at(-time.Hour)
	allow := func(seq int64, max int) (int, bool) {
		t.Helper()
		n, ok, err := sq.AllowApplying(ctx, seq, "w", "okta", "user.delete", since, 0, max, at(0))
		if err != nil {
			t.Fatal(err)
		}
		return n, ok
	}
	if n, ok := allow(seqs[0], 1); n != 0 || !ok {
		t.Errorf("first deletion: %d, %v; want 0 counted, allowed", n, ok)
	}
	if n, ok := allow(seqs[0], 1); n != 0 || !ok {
		t.Errorf("the first again: %d, %v; want 0 counted, allowed again", n, ok)
	}
	if n, ok := allow(seqs[1], 1); n != 1 || ok {
		t.Errorf("second at max 1: %d, %v; want 1 counted (the first, under way), refused", n, ok)
	}
	must(t, "finish", sq.FinishApplied(ctx, seqs[0], "w", "", nil, at(0)))
	if n, ok := allow(seqs[1], 2); n != 1 || !ok {
		t.Errorf("second at max 2: %d, %v; want 1 counted (the first, applied), allowed", n, ok)
	}
	if n, ok := allow(seqs[2], 2); n != 2 || ok {
		t.Errorf("third at max 2: %d, %v; want 2 counted, refused", n, ok)
	}
	// Tried again after a failure: no longer under way, not counted.
	must(t, "retry", sq.FinishEvent(ctx, seqs[1], "w", store.QueuePending, "failed", false, at(0), at(0)))
	if n, ok := allow(seqs[2], 2); n != 1 || !ok {
		t.Errorf("third beside a failed second: %d, %v; want 1 counted, allowed", n, ok)
	}
	if n, _, err := sq.AllowApplying(ctx, seqs[2], "w", "okta", "user.delete", since, seqs[0], 1, at(0)); err != nil || n != 0 {
		t.Errorf("counting after the first's seq: %d, %v; want 0", n, err)
	}
	if _, _, err := sq.AllowApplying(ctx, seqs[2], "other", "okta", "user.delete", since, 0, 10, at(0)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("another owner's event: %v; want ErrConflict", err)
	}
}
