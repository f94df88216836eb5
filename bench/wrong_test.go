package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A wrong answer is an error, not throughput: it counts neither in req/s nor in the
// latencies (a quick FAILED or 500 would flatter both), nor in CPU per request.
func TestWrongAnswersAreNotThroughput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		srv := roundTripFunc(func(*http.Request) (*http.Response, error) {
			if n.Add(1)%2 == 0 {
				time.Sleep(time.Millisecond) // a wrong answer, quicker than a right one
				return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("FAILED"))}, nil
			}
			time.Sleep(9 * time.Millisecond)
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("SUCCESS"))}, nil
		})
		s := &scenario{check: func(_ int, b []byte) error {
			if string(b) != "SUCCESS" {
				return errors.New("status " + string(b))
			}
			return nil
		}, build: func(ctx context.Context, _ int) (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, "GET", "http://bench.invalid/", nil)
			return req, nil, err
		}}
		m, err := s.loop(t.Context(), &http.Client{Transport: srv}, 1, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		// 10 ms a pair: 10 right and 10 wrong answers in 100 ms.
		if m.requests != 10 || m.errors != 10 {
			t.Errorf("%d counted, %d errors; want 10 right answers counted and 10 errors", m.requests, m.errors)
		}
		if got := m.throughput(); got != 100 {
			t.Errorf("throughput %.0f/s, want 100/s: the right answers only", got)
		}
		if p50 := m.quantile(0.5); p50 != 9*time.Millisecond {
			t.Errorf("p50 %v, want 9ms: the wrong answers' latencies are not the server's", p50)
		}
		m.cpu = cpuSplit{server: 100 * time.Millisecond}
		if got := summarise([]measurement{m}).split.server; got != 10*time.Millisecond {
			t.Errorf("server CPU per request %v, want 10ms: per right answer", got)
		}
	})
}

// The report's last column counts every request sent, right or wrong.
func TestReportCountsEveryRequest(t *testing.T) {
	s := &scenario{name: "TOTP validate · emfa SQLite"}
	results := map[*scenario][]measurement{s: {{requests: 10, errors: 3, elapsed: time.Second}}}
	var out bytes.Buffer
	report(options{out: &out, rounds: 1}, machine{}, []*scenario{s}, results, nil, memReport{}, nil, nil)
	if !strings.Contains(out.String(), "| TOTP validate · emfa SQLite | 10 |") || !strings.Contains(out.String(), "| 3 / 13 |") {
		t.Errorf("want 10 req/s and 3 errors of 13 requests:\n%s", out.String())
	}
}
