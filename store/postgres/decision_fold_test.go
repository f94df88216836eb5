package postgres_test

import (
	"testing"
)

// A decision with the record of its answer (a validation with an X-Webhook-ID) is one
// statement: the claim of the record goes out in the compare-and-set's statement, a third
// data-modifying CTE beside the audit row's, where a statement of its own cost the server
// a Bind, a portal, a snapshot, an executor's start and end and an answer on every
// validation (about 55k of ~490k instructions). A replay, a recorded ID and one recorded
// under another fingerprint still fail the one statement's assumption and are decided
// again, a statement at a time.
func TestDecisionOneStatement(t *testing.T) {
	t.Parallel()
	s, w, _ := wiredStore(t)
	ctx := t.Context()
	runs := warm(t, s, w)
	out, claim, err := decide(ctx, s, 4, key("w4", "a"), &runs)
	if err != nil || out != "SUCCESS" || !claim.Claimed || claim.OtherFingerprint {
		t.Fatalf("decided %s, claim %+v, %v; want SUCCESS, claimed, no other fingerprint", out, claim, err)
	}
	if got := w.take(); got['B'] != 1 || got['S'] != 1 {
		t.Errorf("a decision sent %d statements (Bind), %d Syncs; want 1, 1", got['B'], got['S'])
	}
	rec, err := s.GetIdempotency(ctx, key("w4", "a"))
	if err != nil || !rec.Done || rec.Status != 200 || string(rec.Body) != "SUCCESS" || rec.Owner != "me" {
		t.Errorf("record %+v, %v; want done, 200, SUCCESS, owned by me", rec, err)
	}
	if got := audited(t, s); len(got) != 4 || got[3] != "w4:SUCCESS" {
		t.Errorf("audit %q, want wa wb wc w4, all SUCCESS", got)
	}

	// The ID recorded already: the speculative run rolls back whole, and the careful
	// run finds the record held.
	runs = 0
	if _, claim, err := decide(ctx, s, 5, key("w4", "a"), &runs); err == nil || claim.Claimed || runs != 2 {
		t.Errorf("a recorded ID: claim %+v, %v, in %d runs; want not claimed, in 2", claim, err, runs)
	}
	// The ID under another fingerprint: claimed, and told of the other.
	runs = 0
	if _, claim, err := decide(ctx, s, 5, key("w4", "b"), &runs); err != nil || !claim.Claimed || !claim.OtherFingerprint || runs != 2 {
		t.Errorf("another fingerprint: claim %+v, %v, in %d runs; want claimed with the other told, in 2", claim, err, runs)
	}
	// A replayed code with a fresh ID: FAILED, recorded.
	runs = 0
	if out, claim, err := decide(ctx, s, 5, key("w6", "a"), &runs); err != nil || out != "FAILED" || !claim.Claimed || runs != 2 {
		t.Errorf("a replay: %s, claim %+v, %v, in %d runs; want FAILED, claimed, in 2", out, claim, err, runs)
	}
	if got := audited(t, s); len(got) != 6 || got[4] != "w4:SUCCESS" || got[5] != "w6:FAILED" {
		t.Errorf("audit %q, want the four, w4:SUCCESS (the other fingerprint's) and w6:FAILED", got)
	}
	if f, err := s.GetFactor(ctx, "f1"); err != nil || f.Counter != 5 {
		t.Errorf("counter %d, %v; want 5", f.Counter, err)
	}
}
