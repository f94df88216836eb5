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
