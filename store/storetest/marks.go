package storetest

import (
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testDeleteMarks: DeleteMarks deletes, at most limit at a time, the marks before
// its time and before every pending or dead event (which they could still order); the
// seq a resumption records among them (ResumedAfter) is kept, though its value reads as
// an early time.
func testDeleteMarks(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	for i, key := range []string{"user:a", "user:b", "user:c", "user:d"} {
		must(t, "mark", sq.MarkKeys(ctx, at(time.Duration(i)*time.Hour), key))
	}
	// A dead event dated between user:b's mark and user:c's: c and d stay.
	if _, err := sq.EnqueueEvents(ctx, []store.QueuedEvent{queuedEvent("okta", "user.disable", "x", at(90*time.Minute))}, at(0)); err != nil {
		t.Fatal(err)
	}
	deadLetters(t, sq, at(2*time.Hour), "user:x")
	must(t, "pause", sq.PauseSource(ctx, store.SourcePause{Source: "okta", Reason: "r", CreatedAt: at(0)}, store.AuditEvent{Time: at(0), Resource: "admin.sync.pause", Outcome: "SUCCESS"}))
	must(t, "resume", sq.ResumeSource(ctx, "okta", store.AuditEvent{Time: at(0), Resource: "admin.sync.resume", Outcome: "SUCCESS"}))
	resumed, err := sq.ResumedAfter(ctx, "okta")
	if err != nil || resumed == 0 {
		t.Fatalf("ResumedAfter = %d, %v; want a seq", resumed, err)
	}
	if _, err := sq.DeleteMarks(ctx, at(time.Hour), 0); err == nil {
		t.Error("DeleteMarks with limit 0: no error")
	}
	n, err := sq.DeleteMarks(ctx, at(10*time.Hour), 1)
	if err != nil || n != 1 {
		t.Fatalf("DeleteMarks limit 1 = %d, %v; want 1", n, err)
	}
	n, err = sq.DeleteMarks(ctx, at(10*time.Hour), 100)
	if err != nil || n != 1 {
		t.Fatalf("DeleteMarks = %d, %v; want the other of a and b", n, err)
	}
	for key, want := range map[string]time.Time{"user:a": {}, "user:b": {}, "user:c": at(2 * time.Hour), "user:d": at(3 * time.Hour)} {
		if got, err := sq.KeyMark(ctx, key); err != nil || !got.Equal(want) {
			t.Errorf("mark %s = %v, %v; want %v", key, got, err, want)
		}
	}
	if got, err := sq.ResumedAfter(ctx, "okta"); err != nil || got != resumed {
		t.Errorf("ResumedAfter after DeleteMarks = %d, %v; want %d", got, err, resumed)
	}
}
