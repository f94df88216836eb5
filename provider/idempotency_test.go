package provider_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// completingStore counts the answer records written by themselves, outside any unit.
type completingStore struct {
	store.Store
	completes int
}

func (s *completingStore) CompleteIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, now time.Time) error {
	s.completes++
	return s.Store.CompleteIdempotency(ctx, key, owner, status, body, now)
}

// TestIdempotencyAnswerWithDecision: once the caller says how an outcome is answered, the
// unit that decides records the answer too, and no commit of its own follows; an attempt
// that then ends otherwise is not sent, and its retry gets the decision's answer.
func TestIdempotencyAnswerWithDecision(t *testing.T) {
	render := func(out provider.Outcome) (provider.Answer, bool) {
		return provider.Answer{Status: 200, Body: []byte(`{"status":"` + string(out.Status) + `"}`)}, true
	}
	decide := func(ctx context.Context, st store.Store) (provider.Outcome, error) {
		return provider.Decide(ctx, st, func(w store.Writer) (provider.Outcome, error) {
			return provider.Outcome{Status: provider.StatusSuccess}, nil
		})
	}
	testdb.ForEach(t, func(t *testing.T, raw store.Store) {
		ctx := t.Context()
		st := &completingStore{Store: raw}
		idem := &provider.Idempotency{Store: st, TTL: time.Minute, Lease: 10 * time.Second}
		key := func(id string) store.IdempotencyKey {
			return store.IdempotencyKey{Provider: "emfa", WebhookID: id, Fingerprint: "validate:x"}
		}
		rendered := func(ctx context.Context) (provider.Answer, error) {
			provider.RenderAnswers(ctx, render)
			out, err := decide(ctx, st)
			if err != nil {
				return provider.Answer{}, err
			}
			ans, _ := render(out)
			return ans, nil
		}

		// Answered as recorded: one unit, no record apart.
		ans, served, _, err := idem.Do(ctx, key("w1"), rendered)
		if err != nil || served != provider.Executed || string(ans.Body) != `{"status":"SUCCESS"}` {
			t.Fatalf("Do: %+v %v %v", ans, served, err)
		}
		if st.completes != 0 {
			t.Errorf("the answer was recorded apart %d times, want with its decision", st.completes)
		}
		if rec, err := raw.GetIdempotency(ctx, key("w1")); err != nil || !rec.Done || string(rec.Body) != `{"status":"SUCCESS"}` {
			t.Errorf("record: %+v %v", rec, err)
		}

		// Without a renderer, the record is apart, as before.
		if _, _, _, err := idem.Do(ctx, key("w2"), func(ctx context.Context) (provider.Answer, error) {
			out, err := decide(ctx, st)
			ans, _ := render(out)
			return ans, err
		}); err != nil || st.completes != 1 {
			t.Errorf("without a renderer: %v, %d records apart, want 1", err, st.completes)
		}

		// A step after the decision fails: not sent; the retry gets the decision's answer.
		_, _, _, err = idem.Do(ctx, key("w3"), func(ctx context.Context) (provider.Answer, error) {
			if _, err := rendered(ctx); err != nil {
				return provider.Answer{}, err
			}
			return provider.Answer{Status: 503, Body: []byte(`{"messageId":"unavailable"}`)}, nil
		})
		if !errors.Is(err, provider.ErrAnswerRecorded) {
			t.Fatalf("failed after the decision: %v, want ErrAnswerRecorded", err)
		}
		ans, served, _, err = idem.Do(ctx, key("w3"), func(context.Context) (provider.Answer, error) {
			t.Error("the retry executed")
			return provider.Answer{}, nil
		})
		if err != nil || served != provider.Replayed || string(ans.Body) != `{"status":"SUCCESS"}` {
			t.Errorf("retry: %+v %v %v, want the decision's answer replayed", ans, served, err)
		}

		// A decision made on another store records nothing there: the answer is recorded
		// apart, in the idempotency store.
		other, before := testdb.SQLite(t), st.completes
		if _, _, _, err := idem.Do(ctx, key("w4"), func(ctx context.Context) (provider.Answer, error) {
			provider.RenderAnswers(ctx, render)
			out, err := decide(ctx, other)
			ans, _ := render(out)
			return ans, err
		}); err != nil || st.completes != before+1 {
			t.Errorf("decided on another store: %v, %d records apart, want 1", err, st.completes-before)
		}
	})
}
