package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSpanCarriesNothingTheCallerChose: the server span's name and attributes say nothing
// an unauthenticated caller wrote: not its Host header (server.address), its User-Agent
// (user_agent.original) or a method of its own making (the span's name,
// http.request.method_original), each of which would let a caller mint values without
// bound. Before, otelhttp copied all three from the request. The handler still gets the
// request as sent.
func TestSpanCarriesNothingTheCallerChose(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(context.Background(), TracingOptions{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	var method, host, agent string
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, host, agent = r.Method, r.Host, r.UserAgent()
		w.WriteHeader(http.StatusNotFound)
	}), func(*http.Request) string { return "/healthz" })
	req := httptest.NewRequest("MINTED-METHOD", "/healthz", nil)
	req.Host = "minted-host.example:1234"
	req.Header.Set("User-Agent", "minted-agent")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if method != "MINTED-METHOD" || host != "minted-host.example:1234" || agent != "minted-agent" {
		t.Errorf("the handler saw %q %q %q, want the request as sent", method, host, agent)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	texts := []string{s.Name}
	for _, a := range s.Attributes {
		texts = append(texts, string(a.Key)+"="+a.Value.Emit())
	}
	for _, text := range texts {
		if strings.Contains(strings.ToLower(text), "minted") {
			t.Errorf("span %q carries the caller's %q", s.Name, text)
		}
	}
}
