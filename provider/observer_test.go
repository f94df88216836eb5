package provider_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/emfa/emfa/provider"
)

// erringEngine answers every validation with err.
type erringEngine struct{ err error }

func (e erringEngine) Enrollments(context.Context, string) ([]provider.Enrollment, error) {
	return nil, nil
}
func (e erringEngine) Initiate(context.Context, provider.Request) (provider.Outcome, error) {
	return provider.Outcome{}, e.err
}
func (e erringEngine) Validate(context.Context, provider.Request) (provider.Outcome, error) {
	return provider.Outcome{}, e.err
}
func (e erringEngine) Result(context.Context, provider.Request) (provider.Outcome, error) {
	return provider.Outcome{}, e.err
}
func (e erringEngine) Test(context.Context) (provider.Outcome, error) {
	return provider.Outcome{}, e.err
}

type recordingObserver struct{ calls, storeErrors []string }

func (o *recordingObserver) Contract(_, resource, _, status string, _ time.Duration) {
	o.calls = append(o.calls, resource+" "+status)
}
func (o *recordingObserver) StoreError(op string) { o.storeErrors = append(o.storeErrors, op) }

// A call its caller abandoned is counted as such, not as a store fault: the store fault
// count is what operators alert on (deploy/prometheus/alerts.yml).
func TestObserverTellsAbandonedFromFaults(t *testing.T) {
	abandoned, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name        string
		ctx         context.Context
		err         error
		status      string
		storeErrors []string
	}{
		{"a store fault", context.Background(), errors.New("sqlite: commit: disk I/O error"), "error", []string{"contract"}},
		{"abandoned by its caller", abandoned, fmt.Errorf("sqlite: begin: %w", context.Canceled), "canceled", nil},
		{"canceled inside, the caller still there", context.Background(), context.Canceled, "error", []string{"contract"}},
		// The engine waited for the store to the request deadline: answered 503.
		{"too slow", context.Background(), context.DeadlineExceeded, "timeout", []string{"contract"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := &recordingObserver{}
			p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"totp"},
				Engine: erringEngine{c.err}, Observer: o}
			if _, err := p.Validate(c.ctx, provider.Request{Capability: "totp", ID: "f1", Username: "alice", Passvalue: "123456"}); err == nil {
				t.Fatal("no error")
			}
			if want := []string{"validate " + c.status}; !slices.Equal(o.calls, want) || !slices.Equal(o.storeErrors, c.storeErrors) {
				t.Errorf("counted %q and store errors %q, want %q and %q", o.calls, o.storeErrors, want, c.storeErrors)
			}
		})
	}
}

// A refused enrollment lookup whose audit row cannot be written is counted as a store
// error of the audit (emfa_store_errors_total{operation="audit"}), and still answered [].
func TestLostAuditRowCounted(t *testing.T) {
	obs := &recordingObserver{}
	p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Audit: failingAuditor{}, Observer: obs, Now: time.Now}
	if out := p.RefuseEnrollments(context.Background(), provider.Request{RequestID: "req-1", Username: "bad\x00user"}, "username has control characters"); len(out) != 0 {
		t.Errorf("answer %v, want []", out)
	}
	if !slices.Equal(obs.storeErrors, []string{"audit"}) {
		t.Errorf("store errors %v, want [audit]", obs.storeErrors)
	}
}

// listingEngine lists one factor, or fails every call with err.
type listingEngine struct {
	erringEngine
}

func (e listingEngine) Enrollments(context.Context, string) ([]provider.Enrollment, error) {
	if e.err != nil {
		return nil, e.err
	}
	return []provider.Enrollment{{Capability: "totp", ID: "f1"}}, nil
}

func (e listingEngine) Test(context.Context) (provider.Outcome, error) {
	if e.err != nil {
		return provider.Outcome{}, e.err
	}
	return provider.Outcome{Status: provider.StatusSuccess}, nil
}

// Enrollments, the most frequent call, and test are counted and traced like the others:
// with the store down, their 503s show in emfa_contract_calls_total and
// emfa_store_errors_total, and each has its "contract RESOURCE" span.
func TestEnrollmentsAndTestObserved(t *testing.T) {
	for _, c := range []struct {
		name        string
		err         error
		calls       []string
		storeErrors []string
		spanStatus  []string
	}{
		{"answered", nil, []string{"enrollments ok", "test SUCCESS"}, nil, []string{"ok", "SUCCESS"}},
		{"store down", errors.New("postgres: dial tcp: connection refused"),
			[]string{"enrollments error", "test error"}, []string{"contract", "contract"}, []string{"error", "error"}},
		{"store too slow", fmt.Errorf("postgres: %w", context.DeadlineExceeded),
			[]string{"enrollments timeout", "test timeout"}, []string{"contract", "contract"}, []string{"timeout", "timeout"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := &recordingObserver{}
			p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"totp"},
				Engine: listingEngine{erringEngine{c.err}}, Observer: o}
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			defer tp.Shutdown(context.Background())
			ctx, root := tp.Tracer("test").Start(context.Background(), "server")
			_, eerr := p.Enrollments(ctx, "alice")
			_, terr := p.Test(ctx)
			root.End()
			if (eerr != nil) != (c.err != nil) || (terr != nil) != (c.err != nil) {
				t.Errorf("errors %v and %v, want %v", eerr, terr, c.err)
			}
			if !slices.Equal(o.calls, c.calls) || !slices.Equal(o.storeErrors, c.storeErrors) {
				t.Errorf("counted %q and store errors %q, want %q and %q", o.calls, o.storeErrors, c.calls, c.storeErrors)
			}
			var spans, statuses []string
			for _, s := range exp.GetSpans() {
				if s.Name == "server" {
					continue
				}
				spans = append(spans, s.Name)
				for _, a := range s.Attributes {
					if a.Key == provider.AttrStatus {
						statuses = append(statuses, a.Value.AsString())
					}
				}
			}
			if want := []string{"contract enrollments", "contract test"}; !slices.Equal(spans, want) || !slices.Equal(statuses, c.spanStatus) {
				t.Errorf("spans %q with status %q, want %q with %q", spans, statuses, want, c.spanStatus)
			}
		})
	}
}
