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

// rerunStore runs each Update's fn once more before the run that counts, and undoes
// that first run, as SQLite's group writer reruns a batch whole (a neighbour failed in a
// bare batch): in the first run the unit's claim finds first (when set) instead of
// what the store holds. last, when set, replaces the final Update's result (a commit that
// failed, a unit skipped because its context ended meanwhile).
type rerunStore struct {
	store.Store
	first *store.IdempotencyClaim
	last  error
	runs  int
}

var errUndo = errors.New("undo the first run")

func (s *rerunStore) Update(ctx context.Context, fn func(w store.Writer) error) error {
	err := s.Store.Update(ctx, func(w store.Writer) error {
		s.runs++
		_ = fn(claimSeeing{Writer: w, first: s.first})
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		return err
	}
	if s.last != nil {
		return s.last // the final run never came, or its batch did not commit
	}
	return s.Store.Update(ctx, func(w store.Writer) error {
		s.runs++
		return fn(w)
	})
}

// claimSeeing is a writer whose claims find first, when set.
type claimSeeing struct {
	store.Writer
	first *store.IdempotencyClaim
}

func (w claimSeeing) ClaimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	if w.first != nil {
		return *w.first, nil
	}
	return w.Writer.ClaimIdempotency(ctx, key, owner, leaseUntil, expiresAt, now)
}

func (w claimSeeing) RecordIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	if w.first != nil {
		return *w.first, nil
	}
	return w.Writer.RecordIdempotency(ctx, key, owner, status, body, leaseUntil, expiresAt, now)
}

// TestLateClaimAcrossRerun: under DoLate, what a run of the deciding unit that was
// undone found (pa.lost: another attempt's record, with its answer) never outlives it:
// a final run that claims executes and answers its own decision once; a final run that
// never committed (its batch failed, or it was skipped) answers an error, not the answer
// the undone run saw; a final run that finds a record replays that record's answer.
func TestLateClaimAcrossRerun(t *testing.T) {
	render := func(out provider.Outcome) (provider.Answer, bool) {
		return provider.Answer{Status: 200, Body: []byte(`{"status":"` + string(out.Status) + `","reason":"` + out.Reason + `"}`)}, true
	}
	now := time.Now()
	ghost := store.IdempotencyClaim{Record: store.IdempotencyRecord{Owner: "ghost", Done: true, Status: 200,
		Body: []byte(`{"status":"GHOST"}`), LeaseUntil: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}}
	for _, tc := range []struct {
		name      string
		first     *store.IdempotencyClaim
		last      error
		committed *provider.Answer // recorded by another attempt before the call
		want      string           // the answer; "" for an error
		served    provider.Served
		counter   int64
	}{
		{name: "undone run lost, final claims", first: &ghost, want: `{"status":"SUCCESS","reason":"mine"}`,
			served: provider.Executed, counter: 5},
		{name: "undone run claimed, final finds a record", committed: &provider.Answer{Status: 200, Body: []byte(`{"status":"OTHER"}`)},
			want: `{"status":"OTHER"}`, served: provider.Replayed, counter: -1},
		{name: "undone run lost, final batch failed", first: &ghost, last: errors.New("commit: disk I/O error"), counter: -1},
		{name: "undone run lost, final skipped", first: &ghost, last: context.DeadlineExceeded, counter: -1},
		{name: "undone run claimed, final batch failed", last: errors.New("commit: disk I/O error"), counter: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := testdb.Memory(t)
			ctx := t.Context()
			if err := raw.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
				t.Fatal(err)
			}
			if err := raw.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive, Counter: -1}); err != nil {
				t.Fatal(err)
			}
			key := store.IdempotencyKey{Provider: "emfa", WebhookID: "w1", Fingerprint: "validate:x"}
			if a := tc.committed; a != nil {
				if c, err := raw.RecordIdempotency(ctx, key, "other", a.Status, a.Body, now.Add(time.Hour), now.Add(time.Hour), now); err != nil || !c.Claimed {
					t.Fatalf("%+v %v", c, err)
				}
			}
			st := &rerunStore{Store: raw, first: tc.first, last: tc.last}
			idem := &provider.Idempotency{Store: st, TTL: time.Minute, Lease: 10 * time.Second, Poll: time.Millisecond,
				Wait: 50 * time.Millisecond}
			executions := 0
			ans, served, _, err := idem.DoLate(ctx, key, func(ctx context.Context) (provider.Answer, error) {
				executions++
				provider.RenderAnswers(ctx, render)
				out, err := provider.Decide(ctx, st, func(w store.Writer) (provider.Outcome, error) {
					if err := w.AdvanceCounter(ctx, "f1", 5, now); err != nil {
						return provider.Outcome{}, err
					}
					return provider.Outcome{Status: provider.StatusSuccess, Reason: "mine"}, nil
				})
				if err != nil {
					return provider.Answer{}, err
				}
				a, _ := render(out)
				return a, nil
			})
			t.Logf("%d runs of the unit, %d executions: %s %v %v", st.runs, executions, ans.Body, served, err)
			if tc.want == "" {
				if err == nil {
					t.Errorf("answered %s (%v), want an error: the unit never committed", ans.Body, served)
				}
			} else if err != nil || string(ans.Body) != tc.want || served != tc.served {
				t.Errorf("answered %s %v %v, want %s %v", ans.Body, served, err, tc.want, tc.served)
			}
			f, err := raw.GetFactor(ctx, "f1")
			if err != nil {
				t.Fatal(err)
			}
			if f.Counter != tc.counter {
				t.Errorf("counter %d, want %d", f.Counter, tc.counter)
			}
			rec, err := raw.GetIdempotency(ctx, key)
			switch {
			case tc.want == "" && err == nil:
				t.Errorf("a record %+v of a call that never committed", rec)
			case tc.want != "" && (err != nil || string(rec.Body) != tc.want):
				t.Errorf("record %s %v, want %s", rec.Body, err, tc.want)
			}
		})
	}
}
