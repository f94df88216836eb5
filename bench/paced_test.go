package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A paced row whose server falls behind leaves requests that fell due and were never sent
// when the time is up: the slowest ones, whose latency would have been the largest. They
// are counted and the report says the row did not hold its rate, rather than printing a
// p99 from the requests that happened to go out.
func TestPacedCountsWhatWasNeverSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := roundTripFunc(func(*http.Request) (*http.Response, error) {
			time.Sleep(5 * time.Millisecond) // 200 a second on one worker, against 1,000 due
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok"))}, nil
		})
		s := &scenario{rate: 1000, check: func(int, []byte) error { return nil },
			build: func(ctx context.Context, _ int) (*http.Request, func(), error) {
				req, err := http.NewRequestWithContext(ctx, "GET", "http://bench.invalid/", nil)
				return req, nil, err
			}}
		m, err := s.loop(t.Context(), &http.Client{Transport: slow}, 1, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if sent := m.requests + m.errors; m.unsent != 100-sent {
			t.Errorf("%d sent of the 100 due in 100 ms at 1,000/s, %d counted as never sent", sent, m.unsent)
		}

		// A server that keeps up leaves none.
		quick := roundTripFunc(func(*http.Request) (*http.Response, error) {
			time.Sleep(100 * time.Microsecond)
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok"))}, nil
		})
		m, err = s.loop(t.Context(), &http.Client{Transport: quick}, 1, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if m.unsent != 0 || m.requests < 100 {
			t.Errorf("a server that keeps up: %d sent, %d never sent; want 100 and 0", m.requests, m.unsent)
		}
	})

	s := &scenario{name: "TOTP validate · emfa SQLite · paced 1000/s", rate: 1000}
	results := map[*scenario][]measurement{s: {{requests: 20, unsent: 80, elapsed: 100 * time.Millisecond}}}
	var out bytes.Buffer
	report(options{out: &out, rounds: 1}, machine{}, []*scenario{s}, results, nil, memReport{}, nil, nil)
	if !strings.Contains(out.String(), "⚠ did not hold its rate: 80 requests fell due and were never sent") {
		t.Errorf("the report does not say the paced row fell behind:\n%s", out.String())
	}
}
