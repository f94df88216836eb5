package telemetry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestClientSpanNeverCarriesTheError: a vendor call's span never says the transport's
// error (hosts, addresses, certificate names): its status says the call failed. The
// caller still gets the error itself.
func TestClientSpanNeverCarriesTheError(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(context.Background(), TracingOptions{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New(`tls: failed to verify certificate: x509: certificate is valid for a.example, not vendor.example`)
	rt := tr.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, cause }))
	req, _ := http.NewRequest("POST", "https://vendor.example/auth/v2/auth?username=alice", nil)
	if _, err := rt.RoundTrip(req); err != cause {
		t.Errorf("the caller got %v, want the transport's error", err)
	}
	req2, _ := http.NewRequest("GET", "http://127.0.0.1:1/users/alice", nil)
	if _, err := tr.Transport(http.DefaultTransport).RoundTrip(req2); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Errorf("the caller got %v, want the dial error", err)
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	for _, s := range spans {
		if d := s.Status.Description; strings.Contains(d, "x509") || strings.Contains(d, "connect") || strings.Contains(d, "127.0.0.1") {
			t.Errorf("span %q carries the error %q", s.Name, d)
		}
	}
}
