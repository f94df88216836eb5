package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSpanClientIsThePeer: a server span's client.address is the socket's peer, never an
// address the caller wrote into X-Forwarded-For, Forwarded or X-Real-IP (README,
// "X-Forwarded-For is believed only from server.trustedProxies"); the handler still
// gets the request's headers as sent, for the adapter to resolve the client. Before,
// otelhttp took the first X-Forwarded-For from anyone.
func TestSpanClientIsThePeer(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracing(context.Background(), TracingOptions{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	var seen http.Header
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.WriteHeader(http.StatusUnauthorized)
	}), nil)
	for _, hdr := range []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"} {
		exp.Reset()
		req := httptest.NewRequest(http.MethodPost, "/v1/providers/emfa/validate", nil)
		req.RemoteAddr = "203.0.113.9:40000"
		value := "10.20.30.40"
		if hdr == "Forwarded" {
			value = "for=10.20.30.40"
		}
		req.Header.Set(hdr, value)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if seen.Get(hdr) != value {
			t.Errorf("%s: the handler saw %q, want the header as sent", hdr, seen.Get(hdr))
		}
		spans := exp.GetSpans()
		if len(spans) == 0 {
			t.Fatalf("%s: no server span", hdr)
		}
		client := ""
		for _, a := range spans[0].Attributes {
			if a.Key == "client.address" {
				client = a.Value.AsString()
			}
		}
		if client != "203.0.113.9" {
			t.Errorf("%s: client.address %q, want the peer 203.0.113.9", hdr, client)
		}
	}
}
