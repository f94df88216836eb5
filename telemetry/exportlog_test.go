package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
)

// countingHandler counts what reaches OpenTelemetry's global error handler, which by
// default prints a plain-text line on stderr, outside emfa's log.
type countingHandler struct {
	mu   sync.Mutex
	errs []error
}

func (h *countingHandler) Handle(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err)
}

// lockedBuffer is a log's output, written from the batch processor's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.FieldsFunc(l.b.String(), func(r rune) bool { return r == '\n' })
}

// TestExportFailureOnEmfasLog: spans a collector refuses are said on emfa's own
// log (its JSON, its level), not handed to OpenTelemetry's global error handler, whose
// default writes a plain-text line to stderr for every failed batch.
func TestExportFailureOnEmfasLog(t *testing.T) {
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest) // refused for good: no retry
	})
	h := &countingHandler{}
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(h)
	defer otel.SetErrorHandler(prev)

	var out lockedBuffer
	tr, err := NewTracing(context.Background(), TracingOptions{Endpoint: c.URL, Log: slog.New(slog.NewJSONHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	tracer := tr.TracerProvider().Tracer("test")
	for range 3 {
		_, s := tracer.Start(context.Background(), "s")
		s.End()
	}
	if err := tr.Shutdown(context.Background()); err != nil { // the last batch, exported and refused
		t.Fatal(err)
	}
	if len(c.requests()) == 0 {
		t.Fatal("no export reached the collector")
	}
	h.mu.Lock()
	if len(h.errs) != 0 {
		t.Errorf("OpenTelemetry's global error handler got %v", h.errs)
	}
	h.mu.Unlock()
	lines := out.lines()
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"WARN"`) || !strings.Contains(lines[0], "400 Bad Request") ||
		!strings.Contains(lines[0], `"spans_lost":3`) {
		t.Errorf("emfa's log has %q, want one warning of the refused export and its 3 spans", lines)
	}
}

// TestExportFailureLoggedOnceAMinute: a collector that keeps failing is said once,
// then once a minute with what was lost since, and its recovery once; nothing is handed
// back to the span processor.
func TestExportFailureLoggedOnceAMinute(t *testing.T) {
	fail := true
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if fail {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	var out lockedBuffer
	r := newExportReporter(testExporter(t, c.URL, false), slog.New(slog.NewJSONHandler(&out, nil)))
	now := time.Unix(1_800_000_000, 0)
	r.now = func() time.Time { return now }
	export := func() {
		t.Helper()
		if err := r.ExportSpans(context.Background(), oneSpan()); err != nil {
			t.Fatalf("the processor got %v", err)
		}
	}
	for range 100 {
		export()
		now = now.Add(time.Second / 2)
	}
	// 50 s: one warning. A minute after it: the next, with the 100 failures since.
	if n := len(out.lines()); n != 1 {
		t.Fatalf("%d lines for 100 failed exports in 50 s:\n%s", n, strings.Join(out.lines(), "\n"))
	}
	now = now.Add(10 * time.Second)
	export()
	if l := out.lines(); len(l) != 2 || !strings.Contains(l[1], `"failed_exports":100`) || !strings.Contains(l[1], `"spans_lost":100`) {
		t.Fatalf("after a minute: %q", l)
	}
	export()
	export()
	fail = false
	export()
	if l := out.lines(); len(l) != 3 || !strings.Contains(l[2], `"level":"INFO"`) || !strings.Contains(l[2], `"failed_exports":2`) {
		t.Fatalf("after the collector recovered: %q", l)
	}
	export()
	fail = true
	export() // said at once: the collector had recovered
	export() // counted, then said at Shutdown
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := out.lines(); len(l) != 5 || !strings.Contains(l[4], `"failed_exports":1`) {
		t.Fatalf("after a failure again and Shutdown: %q", l)
	}
}
