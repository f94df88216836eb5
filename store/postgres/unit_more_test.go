package postgres_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// A decision (counter, audit row, idempotency record: one pipelined unit) queued each
// statement in a pgx.Batch allocated for it, each a QueuedQuery of its own in a slice
// grown as it went, with a new Batch after every send and the assumed positions in a
// slice of their own: 87 allocations. In the unit's own batches (unit.queue): 74; with
// the idempotency claim's arguments in one slice made to size (sqlstore): 73. With the
// claim in the compare-and-set's statement (advanceCounterSQL.recorded): 50 → 41.
func TestDecisionUnitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s := aliceTOTP(t)
	ctx := context.Background()
	var next int64
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "w-" + strconv.Itoa(i)
	}
	decide := func() {
		next++
		err := s.Update(ctx, func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f1", next, t0); err != nil {
				return err
			}
			if err := w.AppendAudit(ctx, store.AuditEvent{Time: t0, Provider: "p", FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"}); err != nil {
				return err
			}
			key := store.IdempotencyKey{Provider: "p", WebhookID: ids[next], Fingerprint: "f"}
			claim, err := w.RecordIdempotency(ctx, key, "o", 200, []byte(`{}`), t0.Add(time.Minute), t0.Add(time.Hour), t0)
			if err == nil && !claim.Claimed {
				t.Fatalf("webhook ID %s: not claimed", key.WebhookID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	decide() // the statements prepared on the connection
	if got := testing.AllocsPerRun(100, decide); got > 41 {
		t.Errorf("a decision: %.0f allocations, want ≤ 41", got)
	}
}
