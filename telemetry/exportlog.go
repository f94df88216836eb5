package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exportLogEvery is how often a collector that keeps failing is said again.
const exportLogEvery = time.Minute

// exportReporter is the exporter as the span processor sees it, saying a failed export
// on emfa's log rather than handing it back: the processor gives an error to
// OpenTelemetry's global error handler, whose default prints a plain-text line on stderr
// (outside the log's format and level) for every failed batch, which a dead collector
// under load turns into a stream. The first failure is a warning at once; while the
// collector keeps failing, one more a minute says how many exports and spans were lost
// since; the first export that succeeds after says so, as does Shutdown of what the last
// warning did not.
type exportReporter struct {
	sdktrace.SpanExporter
	log   *slog.Logger
	now   func() time.Time
	every time.Duration

	mu      sync.Mutex
	failing bool      // the last export failed
	saidAt  time.Time // the last warning
	failed  int       // exports failed since the last warning
	lost    int       // and their spans
}

func newExportReporter(exp sdktrace.SpanExporter, log *slog.Logger) *exportReporter {
	return &exportReporter{SpanExporter: exp, log: log, now: time.Now, every: exportLogEvery}
}

// ExportSpans exports spans; a failure is logged (or counted for the next warning), never
// returned. A partial success loses the spans the collector rejected, and none when it
// rejected none (a warning of the collector's: every span was taken).
func (r *exportReporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := r.SpanExporter.ExportSpans(ctx, spans)
	lost := len(spans)
	if rs := (*rejectedSpans)(nil); errors.As(err, &rs) { // otlp.go: a partial success
		lost = int(min(max(rs.n, 0), int64(len(spans))))
		if lost == 0 { // all taken, with the collector's warning
			err = nil
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		if r.failing {
			r.log.Info("tracing: the collector takes spans again", "failed_exports", r.failed, "spans_lost", r.lost)
			r.failing, r.failed, r.lost = false, 0, 0
		}
		return nil
	}
	r.failed++
	r.lost += lost
	now := r.now()
	if !r.failing || now.Sub(r.saidAt) >= r.every || now.Before(r.saidAt) {
		r.log.Warn("tracing: spans not exported", "err", err, "failed_exports", r.failed, "spans_lost", r.lost)
		r.saidAt, r.failed, r.lost = now, 0, 0
	}
	r.failing = true
	return nil
}

// Shutdown stops the exporter, first saying the failures no warning has counted yet.
func (r *exportReporter) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.failed > 0 {
		r.log.Warn("tracing: spans not exported", "failed_exports", r.failed, "spans_lost", r.lost)
		r.failed, r.lost = 0, 0
	}
	r.mu.Unlock()
	return r.SpanExporter.Shutdown(ctx)
}
