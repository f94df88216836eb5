package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// A speculating unit's claim of an idempotency record tests that no other fingerprint
// holds its ID by a probe on its own parameters, an InitPlan run once, not by a
// sub-select in the INSERT's RETURNING correlated with the row it inserted: that SubPlan,
// its parameters set and its scan rescanned for the row, and the RETURNING projection and
// CTE scan it needed, cost the server about 14k instructions a validation (467k -> 453k,
// BenchmarkSerial under callgrind). The probe sees what the sub-select saw: the
// statement's snapshot, in which the row it inserts is not. Pinned for the three ways a
// claim goes out assumed: a success's (in its compare-and-set's statement), a failure's
// record and a claim alone.
func TestClaimProbeNotCorrelated(t *testing.T) {
	t.Parallel()
	s, tr, sv, schema := tracedAlice(t)
	ctx := t.Context()
	runs := 0
	if _, _, err := decide(ctx, s, 1, key("w1", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	if out, _, err := decide(ctx, s, 1, key("w2", "a"), &runs); err != nil || out != "FAILED" {
		t.Fatalf("a replay: %s, %v; want FAILED", out, err)
	}
	// A failure: no compare-and-set, the record's claim on its own.
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.AppendAudit(ctx, store.AuditEvent{Time: t0, Provider: "p", Username: "alice", FactorID: "f1",
			Resource: "validate", Outcome: "FAILED"}); err != nil {
			return err
		}
		_, err := w.RecordIdempotency(ctx, key("w3", "a"), "me", 200, []byte("FAILED"), t0.Add(time.Minute), t0.Add(time.Hour), t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(w store.Writer) error {
		_, err := w.ClaimIdempotency(ctx, key("w4", "a"), "me", t0.Add(time.Minute), t0.Add(time.Hour), t0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	plan := genericPlans(t, sv, schema)
	claims := map[string]bool{}
	for _, q := range tr.take() {
		if !strings.HasPrefix(q, "WITH ") || !strings.Contains(q, "INSERT INTO idempotency") || claims[q] {
			continue
		}
		claims[q] = true
		if p := plan(q); strings.Contains(p, "SubPlan") {
			t.Errorf("%.60s… tests the other fingerprints by a correlated sub-select:\n%s", q, p)
		}
	}
	if len(claims) != 3 {
		t.Errorf("%d kinds of assumed claim sent, want 3 (a success's, a failure's record, a claim alone): %v", len(claims), claims)
	}
}
