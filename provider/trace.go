package provider

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Tracing: the spans emfa's providers and engines start are children of the span in
// their context (the HTTP server's, which telemetry.Tracing starts), from its tracer
// provider; without one, or when it is not sampled, none is started and nothing is
// allocated. No attribute may carry what a caller or a vendor chose (a user name, a
// factor ID, a code, a phone number, an address, a vendor's body): only configured names
// and fixed vocabularies — the keys below.
const tracerName = "github.com/emfa/emfa"

// Span attribute keys.
const (
	AttrProvider   = attribute.Key("emfa.provider")   // credentialPrefix
	AttrResource   = attribute.Key("emfa.resource")   // contract or webhook resource name
	AttrCapability = attribute.Key("emfa.capability") // the configured spelling, or ""
	AttrStatus     = attribute.Key("emfa.status")     // SUCCESS, FAILED, PENDING, ok (enrollments), timeout, error, canceled
)

// StartSpan starts a child of ctx's span when that one records, else returns ctx and its
// non-recording span (End and the setters are no-ops).
func StartSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, name, trace.WithAttributes(attrs...))
}

// EndSpan ends span, marked failed with desc (a fixed phrase, never an error's text,
// which may quote a value) when failed is true.
func EndSpan(span trace.Span, failed bool, desc string) {
	if !span.IsRecording() {
		return
	}
	if failed {
		span.SetStatus(codes.Error, desc)
	}
	span.End()
}
