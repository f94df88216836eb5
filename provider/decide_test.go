package provider_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// decidingEngine validates by running validate against the store; the rest is unused.
type decidingEngine struct {
	provider.Engine
	validate func(ctx context.Context, req provider.Request) (provider.Outcome, error)
}

func (e decidingEngine) Validate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	return e.validate(ctx, req)
}

// otherAuditor is an audit trail that is not the engine's store (a wrapper of it).
type otherAuditor struct{ st store.Store }

func (a otherAuditor) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	return a.st.AppendAudit(ctx, e)
}

// countingStore counts the audit rows written by themselves, outside any unit.
type countingStore struct {
	store.Store
	appends int
}

func (s *countingStore) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	s.appends++
	return s.Store.AppendAudit(ctx, e)
}

// failingAuditor cannot write.
type failingAuditor struct{}

func (failingAuditor) AppendAudit(context.Context, store.AuditEvent) error {
	return errors.New("audit down")
}

// TestDecide checks that a decision and its audit row go together: one row per call,
// written in the unit that decides when the audit trail is the engine's store, and
// neither the state change nor the row when the unit fails.
func TestDecide(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		auditor  func(st store.Store) provider.Auditor
		decide   func(ctx context.Context, st store.Store) (provider.Outcome, error)
		wantErr  error
		counter  int64
		outcomes []string
		apart    int // rows written by themselves, not in the deciding unit
	}{
		{"unit decides", func(st store.Store) provider.Auditor { return st },
			func(ctx context.Context, st store.Store) (provider.Outcome, error) {
				return provider.Decide(ctx, st, func(w store.Writer) (provider.Outcome, error) {
					return provider.Outcome{Status: provider.StatusSuccess}, w.AdvanceCounter(ctx, "f1", 5, time.Now())
				})
			}, nil, 5, []string{"SUCCESS"}, 0},
		{"unit fails", func(st store.Store) provider.Auditor { return st },
			func(ctx context.Context, st store.Store) (provider.Outcome, error) {
				return provider.Decide(ctx, st, func(w store.Writer) (provider.Outcome, error) {
					if err := w.AdvanceCounter(ctx, "f1", 5, time.Now()); err != nil {
						return provider.Outcome{}, err
					}
					return provider.Outcome{}, boom
				})
			}, boom, -1, nil, 0},
		{"unit decides nothing, then a refusal", func(st store.Store) provider.Auditor { return st },
			func(ctx context.Context, st store.Store) (provider.Outcome, error) {
				out, err := provider.Decide(ctx, st, func(w store.Writer) (provider.Outcome, error) {
					return provider.Outcome{}, w.AdvanceCounter(ctx, "f1", 5, time.Now())
				})
				if err != nil || out.Status != "" {
					return out, err
				}
				return provider.Failed("refused after"), nil
			}, nil, 5, []string{"FAILED"}, 1},
		{"audit elsewhere", func(st store.Store) provider.Auditor { return otherAuditor{st} }, // counted: st is the countingStore
			func(ctx context.Context, st store.Store) (provider.Outcome, error) {
				return provider.Decide(ctx, st, func(w store.Writer) (provider.Outcome, error) {
					return provider.Outcome{Status: provider.StatusSuccess}, w.AdvanceCounter(ctx, "f1", 5, time.Now())
				})
			}, nil, 5, []string{"SUCCESS"}, 1},
		{"audit down", func(store.Store) provider.Auditor { return failingAuditor{} },
			func(context.Context, store.Store) (provider.Outcome, error) {
				return provider.Failed("refused"), nil
			}, errors.New("audit down"), -1, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, raw store.Store) {
				ctx := t.Context()
				st := &countingStore{Store: raw}
				if err := st.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
					t.Fatal(err)
				}
				if err := st.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive, Counter: -1}); err != nil {
					t.Fatal(err)
				}
				p := &provider.Provider{CredentialPrefix: "p", Enabled: true, Capabilities: []string{"totp"}, Audit: tc.auditor(st),
					Engine: decidingEngine{validate: func(ctx context.Context, _ provider.Request) (provider.Outcome, error) {
						return tc.decide(ctx, st)
					}}}
				_, err := p.Validate(ctx, provider.Request{Capability: "totp", ID: "f1", Username: "alice"})
				switch {
				case tc.wantErr == nil && err != nil:
					t.Fatalf("Validate: %v", err)
				case tc.wantErr != nil && (err == nil || !errors.Is(err, tc.wantErr) && err.Error() != "provider p: validate: audit: "+tc.wantErr.Error()):
					t.Fatalf("Validate: got %v, want %v", err, tc.wantErr)
				}
				f, err := st.GetFactor(ctx, "f1")
				if err != nil {
					t.Fatal(err)
				}
				if f.Counter != tc.counter {
					t.Errorf("counter %d, want %d", f.Counter, tc.counter)
				}
				events, err := st.ListAudit(ctx, store.AuditFilter{})
				if err != nil {
					t.Fatal(err)
				}
				var outcomes []string
				for _, e := range events {
					outcomes = append(outcomes, e.Outcome)
				}
				if len(outcomes) != len(tc.outcomes) || len(outcomes) > 0 && outcomes[0] != tc.outcomes[0] {
					t.Errorf("audit outcomes %v, want %v", outcomes, tc.outcomes)
				}
				if st.appends != tc.apart {
					t.Errorf("%d audit rows written apart from the unit, want %d", st.appends, tc.apart)
				}
			})
		})
	}
}

// A caller's AlsoDecided writes go into the unit that decides, once, with its outcome: not
// into a unit that decides nothing, not again into a later deciding unit, and not at all
// when the unit fails, which its failure then takes back whole.
func TestAlsoDecided(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		if err := st.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive, Counter: -1}); err != nil {
			t.Fatal(err)
		}
		var seen []provider.Status
		boom := errors.New("boom")
		fail := true
		also := &provider.AlsoDecided{Write: func(w store.Writer, out provider.Outcome) error {
			seen = append(seen, out.Status)
			if fail {
				return boom
			}
			return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Resource: "caller", FactorID: "f1", Outcome: string(out.Status)})
		}}
		ctx = provider.WithAlsoDecided(ctx, also)
		decide := func(status provider.Status, counter int64) (provider.Outcome, error) {
			return provider.Decide(ctx, st, func(w store.Writer) (provider.Outcome, error) {
				return provider.Outcome{Status: status}, w.AdvanceCounter(ctx, "f1", counter, time.Now())
			})
		}
		if _, err := decide("", 1); err != nil || also.Done() || len(seen) != 0 {
			t.Fatalf("a unit deciding nothing: %v, done %v, ran for %v", err, also.Done(), seen)
		}
		if _, err := decide(provider.StatusSuccess, 2); !errors.Is(err, boom) || also.Done() {
			t.Fatalf("a deciding unit whose AlsoDecided fails: %v, done %v", err, also.Done())
		}
		if f, _ := st.GetFactor(ctx, "f1"); f.Counter != 1 {
			t.Errorf("counter %d after the failed unit, want 1 (its own write taken back)", f.Counter)
		}
		fail = false
		if _, err := decide(provider.StatusFailed, 3); err != nil || !also.Done() {
			t.Fatalf("a deciding unit: %v, done %v", err, also.Done())
		}
		if _, err := decide(provider.StatusSuccess, 4); err != nil {
			t.Fatal(err)
		}
		// A unit may run twice, the first run undone (store.Store.Update): once per unit.
		if want := []provider.Status{provider.StatusSuccess, provider.StatusFailed}; !slices.Equal(slices.Compact(seen), want) {
			t.Errorf("AlsoDecided ran for %v, want %v", seen, want)
		}
		evs, err := st.ListAudit(ctx, store.AuditFilter{Limit: 100})
		if err != nil || len(evs) != 1 || evs[0].Outcome != "FAILED" {
			t.Errorf("records %+v, %v; want the one of the deciding unit", evs, err)
		}
	})
}
