package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// partialAnswer is an ExportTraceServiceResponse whose partial_success rejects rejected
// spans, saying msg.
func partialAnswer(rejected uint64, msg string) []byte {
	var ps []byte
	if rejected > 0 {
		ps = protowire.AppendTag(ps, 1, protowire.VarintType)
		ps = protowire.AppendVarint(ps, rejected)
	}
	ps = protowire.AppendTag(ps, 2, protowire.BytesType)
	ps = protowire.AppendString(ps, msg)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), ps)
}

// TestPartialSuccessCounted: a collector that takes a batch but rejects some of
// its spans (OTLP's partial success) lost those, not the whole batch; one that takes them
// all with a warning (rejected_spans 0 and a message, as OTLP lets a server say) lost
// none, and no export failed. The log said every span of such a batch lost.
func TestPartialSuccessCounted(t *testing.T) {
	var answer []byte
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(answer)
	})
	var out lockedBuffer
	r := newExportReporter(testExporter(t, c.URL, false), slog.New(slog.NewJSONHandler(&out, nil)))
	var five tracetest.SpanStubs
	for i := range 5 {
		five = append(five, tracetest.SpanStub{Name: "s", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i + 1)}, TraceFlags: trace.FlagsSampled})})
	}

	answer = partialAnswer(0, "attributes truncated")
	if err := r.ExportSpans(context.Background(), five.Snapshots()); err != nil {
		t.Fatal(err)
	}
	if l := out.lines(); len(l) != 0 {
		t.Errorf("a batch taken whole, with the collector's warning: %q", l)
	}

	answer = partialAnswer(2, "too old")
	if err := r.ExportSpans(context.Background(), five.Snapshots()); err != nil {
		t.Fatal(err)
	}
	if l := out.lines(); len(l) != 1 || !strings.Contains(l[0], `"spans_lost":2`) || !strings.Contains(l[0], "too old") {
		t.Errorf("2 spans of 5 rejected: %q", l)
	}
}
