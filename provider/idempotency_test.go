package provider_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// claimingStore counts the claims and answer records made by themselves, outside any unit.
type claimingStore struct {
	completingStore
	claims, records int
}

func (s *claimingStore) ClaimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	s.claims++
	return s.Store.ClaimIdempotency(ctx, key, owner, leaseUntil, expiresAt, now)
}

func (s *claimingStore) RecordIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	s.records++
	return s.Store.RecordIdempotency(ctx, key, owner, status, body, leaseUntil, expiresAt, now)
}

// TestIdempotencyLateClaim: under DoLate the unit that decides claims the record, decides
// and records the answer in one commit; an attempt whose unit finds the call recorded
// writes nothing and answers the recorded answer; racing attempts make one decision.
func TestIdempotencyLateClaim(t *testing.T) {
	render := func(out provider.Outcome) (provider.Answer, bool) {
		return provider.Answer{Status: 200, Body: []byte(`{"status":"` + string(out.Status) + `","reason":"` + out.Reason + `"}`)}, true
	}
	testdb.ForEach(t, func(t *testing.T, raw store.Store) {
		ctx := t.Context()
		st := &claimingStore{completingStore: completingStore{Store: raw}}
		idem := &provider.Idempotency{Store: st, TTL: time.Minute, Lease: 10 * time.Second, Poll: time.Millisecond}
		key := func(id string) store.IdempotencyKey {
			return store.IdempotencyKey{Provider: "emfa", WebhookID: id, Fingerprint: "validate:x"}
		}
		if err := raw.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		if err := raw.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive, Counter: -1}); err != nil {
			t.Fatal(err)
		}
		counter := func() int64 {
			f, err := raw.GetFactor(ctx, "f1")
			if err != nil {
				t.Fatal(err)
			}
			return f.Counter
		}
		// advance is an engine's validate: it reads, then decides in one unit, which
		// moves the counter to step (a state change a second decision would repeat).
		advance := func(step int64, reason string) func(context.Context) (provider.Answer, error) {
			return func(ctx context.Context) (provider.Answer, error) {
				provider.RenderAnswers(ctx, render)
				out, err := provider.Decide(ctx, st, func(w store.Writer) (provider.Outcome, error) {
					if err := w.AdvanceCounter(ctx, "f1", step, time.Now()); err != nil {
						return provider.Outcome{}, err
					}
					return provider.Outcome{Status: provider.StatusSuccess, Reason: reason}, nil
				})
				if err != nil {
					return provider.Answer{}, err
				}
				ans, _ := render(out)
				return ans, nil
			}
		}

		// One unit: no claim, no record apart.
		ans, served, _, err := idem.DoLate(ctx, key("w1"), advance(1, "first"))
		if err != nil || served != provider.Executed || string(ans.Body) != `{"status":"SUCCESS","reason":"first"}` {
			t.Fatalf("DoLate: %s %v %v", ans.Body, served, err)
		}
		if st.claims != 0 || st.completes != 0 || st.records != 0 {
			t.Errorf("%d claims and %d+%d records apart, want both in the deciding unit", st.claims, st.completes, st.records)
		}
		if rec, err := raw.GetIdempotency(ctx, key("w1")); err != nil || !rec.Done || string(rec.Body) != string(ans.Body) {
			t.Errorf("record: %+v %v", rec, err)
		}

		// The retry runs up to its unit, which finds the record and writes nothing.
		ans, served, _, err = idem.DoLate(ctx, key("w1"), advance(2, "retry"))
		if err != nil || served != provider.Replayed || string(ans.Body) != `{"status":"SUCCESS","reason":"first"}` {
			t.Errorf("retry: %s %v %v, want the first answer replayed", ans.Body, served, err)
		}
		if c := counter(); c != 1 {
			t.Errorf("counter %d after the retry, want 1: its unit was written", c)
		}

		// Racing attempts of one call: one decision, one answer for all.
		const racers = 8
		answers := make(chan string, racers)
		executed := make(chan int, racers)
		for i := range racers {
			go func() {
				ans, served, _, err := idem.DoLate(ctx, key("w2"), advance(int64(10+i), fmt.Sprint("racer ", i)))
				if err != nil {
					t.Errorf("racer %d: %v", i, err)
				}
				answers <- string(ans.Body)
				executed <- map[provider.Served]int{provider.Executed: 1}[served]
			}()
		}
		first, n := "", 0
		for range racers {
			a := <-answers
			n += <-executed
			if first == "" {
				first = a
			} else if a != first {
				t.Errorf("racers answered %s and %s", first, a)
			}
		}
		if n != 1 {
			t.Errorf("%d racers executed, want 1", n)
		}
		if c := counter(); c < 10 || !strings.Contains(first, fmt.Sprint("racer ", c-10)) {
			t.Errorf("counter %d, answer %s: not the one decision", c, first)
		}

		// A record still running under Do's claim is waited for; the unit that found it
		// wrote nothing.
		now := time.Now()
		if c, err := raw.ClaimIdempotency(ctx, key("w3"), "early", now.Add(time.Hour), now.Add(time.Hour), now); err != nil || !c.Claimed {
			t.Fatalf("claim: %+v %v", c, err)
		}
		before := counter()
		// Its wait is bounded by Wait, not by a deadline on the whole call, which a loaded
		// machine could spend before the unit even finds the record.
		impatient := &provider.Idempotency{Store: idem.Store, TTL: idem.TTL, Lease: idem.Lease, Poll: idem.Poll,
			Wait: 30 * time.Millisecond}
		_, _, _, err = impatient.DoLate(ctx, key("w3"), advance(before+1, "late"))
		if !errors.Is(err, provider.ErrInFlight) {
			t.Errorf("while another attempt runs: %v, want ErrInFlight", err)
		}
		if c := counter(); c != before {
			t.Errorf("counter %d, want %d: the unit that found the running record was written", c, before)
		}
		if err := raw.CompleteIdempotency(ctx, key("w3"), "early", 200, []byte(`{"status":"FAILED"}`), now); err != nil {
			t.Fatal(err)
		}
		if ans, served, _, err := idem.DoLate(ctx, key("w3"), advance(before+1, "late")); err != nil || served != provider.Replayed || string(ans.Body) != `{"status":"FAILED"}` {
			t.Errorf("after it answered: %s %v %v", ans.Body, served, err)
		}

		// A call that decides without a unit claims and records after, in one write:
		// nothing to roll back, and a retry still gets its answer.
		records := st.records
		noUnit := func(context.Context) (provider.Answer, error) {
			return provider.Answer{Status: 200, Body: []byte(`{"status":"FAILED"}`)}, nil
		}
		if _, served, _, err := idem.DoLate(ctx, key("w4"), noUnit); err != nil || served != provider.Executed || st.records != records+1 {
			t.Errorf("without a unit: %v %v, %d records apart, want 1", served, err, st.records-records)
		}
		if _, served, _, err := idem.DoLate(ctx, key("w4"), noUnit); err != nil || served != provider.Replayed {
			t.Errorf("its retry: %v %v, want replayed", served, err)
		}

		// A call that fails without a unit leaves no record: its retry runs afresh.
		if _, _, _, err := idem.DoLate(ctx, key("w5"), func(context.Context) (provider.Answer, error) {
			return provider.Answer{}, errors.New("store down")
		}); err == nil {
			t.Error("an error was not returned")
		}
		if _, err := raw.GetIdempotency(ctx, key("w5")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("record after a failure: %v, want none", err)
		}
	})
}

// TestIdempotencyWait: with Wait, an attempt that finds another still running gives up
// with ErrInFlight once Wait has passed, though its own context runs on, and runs nothing.
func TestIdempotencyWait(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := t.Context() // no deadline: without Wait, it would wait for the lease
		idem := &provider.Idempotency{Store: st, TTL: time.Hour, Lease: time.Hour, Poll: time.Millisecond, Wait: 20 * time.Millisecond}
		key := store.IdempotencyKey{Provider: "admin:idm", WebhookID: "k", Fingerprint: "admin"}
		now := time.Now()
		if c, err := st.ClaimIdempotency(ctx, key, "first", now.Add(time.Hour), now.Add(time.Hour), now); err != nil || !c.Claimed {
			t.Fatalf("claim: %+v %v", c, err)
		}
		ran := false
		_, _, _, err := idem.Do(ctx, key, func(context.Context) (provider.Answer, error) {
			ran = true
			return provider.Answer{Status: 200}, nil
		})
		if !errors.Is(err, provider.ErrInFlight) || ran {
			t.Errorf("while the first runs: %v (ran %v), want ErrInFlight and nothing run", err, ran)
		}
	})
}
