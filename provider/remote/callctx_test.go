package remote

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// memoryVendor answers every request in memory, after reading its body: no socket, so
// that what a call allocates is the engine's own, counted exactly.
type memoryVendor struct {
	body   string
	header http.Header
	seen   func(*http.Request)
}

func (v *memoryVendor) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	if v.seen != nil {
		v.seen(r)
	}
	return &http.Response{StatusCode: 200, Header: v.header, Body: io.NopCloser(strings.NewReader(v.body)),
		ContentLength: int64(len(v.body)), Request: r}, nil
}

// memoryEngine is an engine whose vendor is v, its timeout timeout (0: DefaultTimeout).
func memoryEngine(t *testing.T, v *memoryVendor, timeout time.Duration) *Engine {
	t.Helper()
	w := &Webhook{URLs: []string{"https://vendor.example/api"}, Timeout: Duration(timeout), Resources: map[string]Resource{
		"validate": {Suffix: "/validate"},
	}}
	e, err := New(Options{Webhook: w, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute,
		WrapTransport: func(http.RoundTripper) http.RoundTripper { return v }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestVendorCallContextAllocs bounds what a vendor call that runs to its end
// (validate, step 1: no store write) allocates, on a request's context as the adapter
// hands it (a deadline, sooner than the webhook's timeout as with the defaults, 10s
// each) and on one without a deadline (a benchmark's, a script's).
func TestVendorCallContextAllocs(t *testing.T) {
	v := &memoryVendor{body: `{"status":"SUCCESS"}`, header: http.Header{"Content-Type": {"application/json"}}}
	e := memoryEngine(t, v, 0)
	r := req("totp", "", "123456")
	dl, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		max  float64
	}{
		{"deadline", dl, 98},                      // 102-103 with send's second timer
		{"no deadline", context.Background(), 90}, // 95 with RunToEnd's WithCancel
	} {
		run := func() {
			if out, err := e.Validate(c.ctx, r); err != nil || out.Status != provider.StatusSuccess {
				t.Fatalf("%s: validate: %+v %v", c.name, out, err)
			}
		}
		run()
		if raceEnabled {
			continue
		}
		got := testing.AllocsPerRun(1000, run)
		t.Logf("%s: %v allocations a call", c.name, got)
		if got > c.max {
			t.Errorf("%s: a vendor call allocates %v times, want at most %v", c.name, got, c.max)
		}
	}
}

// TestVendorCallBoundedByTimeoutAndDeadline: the request that reaches the vendor
// carries the sooner of the webhook's timeout and the caller's deadline, whichever of the
// two layers sets it: send's own timer only when the caller's deadline is later.
func TestVendorCallBoundedByTimeoutAndDeadline(t *testing.T) {
	var got time.Time
	v := &memoryVendor{body: `{"status":"SUCCESS"}`, seen: func(r *http.Request) {
		d, ok := r.Context().Deadline()
		if !ok {
			t.Error("the vendor's request has no deadline")
		}
		got = d
	}}
	for _, c := range []struct {
		name              string
		timeout, deadline time.Duration // 0: none
		want              time.Duration // the deadline seen, from now
	}{
		{"timeout sooner", time.Second, time.Hour, time.Second},
		{"deadline sooner", time.Hour, time.Second, time.Second},
		{"no deadline", time.Second, 0, time.Second},
		{"equal", time.Second, time.Second, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := memoryEngine(t, v, c.timeout)
			ctx := context.Background()
			if c.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.deadline)
				defer cancel()
			}
			start := time.Now()
			if out, err := e.Validate(ctx, req("totp", "", "123456")); err != nil || out.Status != provider.StatusSuccess {
				t.Fatalf("validate: %+v %v", out, err)
			}
			if end := time.Now(); got.After(end.Add(c.want)) || got.Before(start.Add(c.want-time.Minute/2)) {
				t.Errorf("the vendor's request ends %v after the call began, want %v", got.Sub(start), c.want)
			}
		})
	}
}
