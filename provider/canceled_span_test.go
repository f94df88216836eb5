package provider_test

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/emfa/emfa/provider"
)

// A call Verify gave up on is counted canceled (no store fault); its span must say the
// same, and not be marked failed as if emfa had faulted.
func TestAbandonedSpanSaysCanceled(t *testing.T) {
	o := &recordingObserver{}
	p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"totp"},
		Engine: erringEngine{fmt.Errorf("sqlite: begin: %w", context.Canceled)}, Observer: o}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	ctx, root := tp.Tracer("test").Start(context.Background(), "server")
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Validate(ctx, provider.Request{Capability: "totp", ID: "f1", Username: "alice", Passvalue: "123456"}); err == nil {
		t.Fatal("no error")
	}
	root.End()
	if len(o.calls) != 1 || o.calls[0] != "validate canceled" {
		t.Fatalf("counted %q, want [validate canceled]", o.calls)
	}
	for _, s := range exp.GetSpans() {
		if s.Name != "contract validate" {
			continue
		}
		var status string
		for _, a := range s.Attributes {
			if a.Key == provider.AttrStatus {
				status = a.Value.AsString()
			}
		}
		if status != "canceled" || s.Status.Code == codes.Error {
			t.Errorf("span status %q (marked %v), want canceled, not marked failed", status, s.Status.Code)
		}
		return
	}
	t.Fatal("no contract validate span")
}
