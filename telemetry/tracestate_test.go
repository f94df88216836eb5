package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestCallerTraceStateBounded: a caller, authenticated or not, chooses the
// tracestate its traceparent comes with; every span of its request carries it, it is
// exported with each, and a vendor call sends it on. W3C trace context lets a receiver
// keep 512 characters of it (entries over 128 first dropped, then from the end); emfa
// kept all of it, up to 32 entries of 256-character keys and values (16 KiB a span, in
// the span queue, every export and every vendor request). A short one, as Verify or a
// gateway sends, is kept whole.
func TestCallerTraceStateBounded(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(context.Background(), TracingOptions{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	var sentOn string
	vendor := tr.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sentOn = r.Header.Get("tracestate")
		return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
	}))
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, "https://vendor.example/auth", nil)
		resp, err := vendor.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // ends the client span
	}), nil)
	serve := func(state string) {
		req := httptest.NewRequest(http.MethodPost, "/v1/providers/emfa/initiate", nil)
		req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		req.Header.Set("tracestate", state)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	var long []string
	for i := range 32 {
		long = append(long, fmt.Sprintf("k%02d%s=%s", i, strings.Repeat("k", 200), strings.Repeat("v", 256)))
	}
	long[3] = "small=1"
	long[7] = "other=2"
	serve(strings.Join(long, ","))
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	for _, s := range spans {
		if got := s.SpanContext.TraceState().String(); got != "small=1,other=2" {
			t.Errorf("span %q carries a tracestate of %d characters: %.80q…, want the short entries only", s.Name, len(got), got)
		}
	}
	if sentOn != "small=1,other=2" {
		t.Errorf("the vendor was sent a tracestate of %d characters, want the short entries only", len(sentOn))
	}

	// Short entries past 512 characters: those before the first that does not fit.
	var short []string
	for i := range 32 {
		short = append(short, fmt.Sprintf("k%02d=%s", i, strings.Repeat("v", 40)))
	}
	short[10] = "k10=" + strings.Repeat("v", 100) // does not fit, where k11 would
	exp.Reset()
	serve(strings.Join(short, ","))
	if got, want := exp.GetSpans()[0].SpanContext.TraceState().String(), strings.Join(short[:10], ","); got != want {
		t.Errorf("a tracestate of short entries became %q, want %q", got, want)
	}

	exp.Reset()
	serve("verify=abc,congo=t61rcWkgMzE")
	for _, s := range exp.GetSpans() {
		if got := s.SpanContext.TraceState().String(); got != "verify=abc,congo=t61rcWkgMzE" {
			t.Errorf("a short tracestate became %q", got)
		}
	}
}
