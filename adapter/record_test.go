package adapter

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store/sqlite"
)

type callLog struct {
	mu    sync.Mutex
	calls []RecordedCall
}

func (l *callLog) Record(c RecordedCall) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// An attempt answered 503 retry_in_progress, because its first attempt still runs
// (here or on another replica), is no call of its own: a transcript of it would expect a
// 503 that a replay, with no attempt running, never gets.
func TestRecordSkipsRetryInProgress(t *testing.T) {
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := &countingEngine{}
	rec := &callLog{}
	h := newHarness(t, func(o *Options) {
		o.Providers[0].Engine = eng
		o.Idempotency = &provider.Idempotency{Store: st, TTL: time.Minute, Lease: 5 * time.Second, Poll: time.Millisecond}
		o.Recorder = rec
		o.RequestTimeout = 300 * time.Millisecond // the retry's wait ends; the first attempt waits for its gate
	})
	eng.gate = make(chan struct{})
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-rec"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...)
	}()
	testwait.Until(t, "the first attempt to reach the engine", time.Millisecond, func() bool { return eng.calls.Load() != 0 })
	// The retry's deadline passes while the first attempt runs.
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...); code != 503 || !strings.Contains(body, "retry_in_progress") {
		t.Fatalf("retry while the first attempt runs: %d %s", code, body)
	}
	close(eng.gate)
	testwait.Recv(t, "the first attempt's answer", done)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) != 1 || rec.calls[0].Status != 200 {
		for _, c := range rec.calls {
			t.Logf("recorded: %d %s", c.Status, c.Response)
		}
		t.Errorf("recorded %d calls, want the first attempt's alone", len(rec.calls))
	}
}
