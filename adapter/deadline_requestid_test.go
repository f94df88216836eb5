package adapter

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
)

// ctxKeepingEngine keeps the context its Enrollments was called with.
type ctxKeepingEngine struct {
	*fakeEngine
	ctx context.Context
}

func (e *ctxKeepingEngine) Enrollments(ctx context.Context, username string) ([]provider.Enrollment, error) {
	e.ctx = ctx
	return nil, nil
}

// TestRequestIDAndDeadlineInContext: the context a contract call's engine
// gets carries the request's id, the one echoed, and the request's deadline, now that
// both are put in it with one copy of the request.
func TestRequestIDAndDeadlineInContext(t *testing.T) {
	for _, sent := range []string{"rid-7", ""} {
		eng := &ctxKeepingEngine{fakeEngine: &fakeEngine{}}
		h := newHarness(t, func(o *Options) { o.Providers[0].Engine = eng })
		req, _ := http.NewRequest("POST", "/v1/providers/acme/enrollments", strings.NewReader(`{"username":"alice"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("verify", "pw-secret")
		if sent != "" {
			req.Header.Set("X-Request-Id", sent)
		}
		w := &discardWriter{h: http.Header{}}
		start := time.Now()
		h.srv.Handler().ServeHTTP(w, req)
		if w.status != http.StatusOK || eng.ctx == nil {
			t.Fatalf("status %d, engine called %v", w.status, eng.ctx != nil)
		}
		if got, want := provider.RequestID(eng.ctx), w.h.Get("X-Request-Id"); got == "" || got != want {
			t.Errorf("sent %q: the engine's context carries request id %q, the answer %q", sent, got, want)
		}
		d, ok := eng.ctx.Deadline()
		if !ok || d.Before(start.Add(2*time.Second)) || d.After(time.Now().Add(2*time.Second)) {
			t.Errorf("sent %q: the engine's context has deadline %v (%v), want the request timeout's, 2 s", sent, d, ok)
		}
		if eng.ctx.Err() != context.Canceled {
			t.Errorf("sent %q: once answered, the context's error is %v, want it canceled", sent, eng.ctx.Err())
		}
	}
}

// TestOneRequestCopy: an enrollments call allocates 15 times at most through
// the whole handler (16 before: the request copied for its id, and again for its
// deadline). Not under the race detector, whose build allocates more.
func TestOneRequestCopy(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	if got := contractAllocs(t, "POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`); got > 15 {
		t.Errorf("POST enrollments allocates %v times, want at most 15", got)
	}
}
