package provider_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestRecordedAnswerOnce: an idempotent call whose decision recorded its answer
// sends those bytes, rendered once (RecordedAnswer), when it answers the outcome decided;
// an outcome that changed after the decision (another status or transaction, or any
// attributes) is not given the recorded answer, and is rendered and refused by Do as
// before; with nothing recorded, or outside an idempotent call, there is none.
func TestRecordedAnswerOnce(t *testing.T) {
	st := testdb.SQLite(t)
	idem := &provider.Idempotency{Store: st, TTL: time.Minute, Lease: 10 * time.Second}
	renders := 0
	render := func(out provider.Outcome) (provider.Answer, bool) {
		renders++
		return provider.Answer{Status: 200, Body: []byte(`{"status":"` + string(out.Status) + `","transactionId":"` + out.TransactionID + `"}`)}, true
	}
	decided := provider.Outcome{Status: provider.StatusPending, TransactionID: "tx-1", Reason: "started"}
	if _, ok := provider.RecordedAnswer(context.Background(), decided); ok {
		t.Error("an answer outside an idempotent call")
	}
	for i, c := range []struct {
		name string
		out  provider.Outcome // answered after the decision
		same bool
	}{
		{"as decided", decided, true},
		{"another reason", provider.Outcome{Status: provider.StatusPending, TransactionID: "tx-1", Reason: "other", RetryAt: time.Now()}, true},
		{"another status", provider.Outcome{Status: provider.StatusFailed, TransactionID: "tx-1"}, false},
		{"another transaction", provider.Outcome{Status: provider.StatusPending, TransactionID: "tx-2"}, false},
		{"attributes", provider.Outcome{Status: provider.StatusPending, TransactionID: "tx-1", Attributes: map[string]any{"n": 1}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			renders = 0
			var recorded []byte
			key := store.IdempotencyKey{Provider: "emfa", WebhookID: "w" + string(rune('a'+i)), Fingerprint: "initiate:x"}
			ans, _, _, err := idem.Do(t.Context(), key, func(ctx context.Context) (provider.Answer, error) {
				provider.RenderAnswers(ctx, render)
				if _, ok := provider.RecordedAnswer(ctx, decided); ok {
					t.Error("an answer before the decision")
				}
				if _, err := provider.Decide(ctx, st, func(store.Writer) (provider.Outcome, error) { return decided, nil }); err != nil {
					return provider.Answer{}, err
				}
				ans, ok := provider.RecordedAnswer(ctx, c.out)
				if ok != c.same {
					t.Errorf("recorded answer given: %v, want %v", ok, c.same)
				}
				if !ok {
					ans, _ = render(c.out)
				} else {
					recorded = ans.Body
				}
				return ans, nil
			})
			if c.same {
				if err != nil || string(ans.Body) != string(recorded) || renders != 1 {
					t.Errorf("answered %q (%v), rendered %d times; want the recorded %q, rendered once", ans.Body, err, renders, recorded)
				}
			} else if err == nil && c.name != "attributes" {
				t.Errorf("an outcome changed after its decision was sent: %q", ans.Body)
			}
		})
	}
}
