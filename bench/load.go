package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// The load generator: a closed loop of N workers, each sending its next request as soon as
// the previous answer is read and checked, over keep-alive connections (one per worker at
// most), for a fixed duration. Every answer is checked against what the scenario expects;
// anything else is an error, counted and sampled, and left out of the throughput, the
// latencies and the CPU per request, which are the right answers'.

// scenario is one kind of request against one server.
type scenario struct {
	name string
	pid  func() int // the server process whose CPU time is charged to the requests
	// stub, if not nil, is the DUO stub's process, when the server calls it (cpu.go).
	stub func() int
	// build makes the next request; done, if not nil, is called once it is answered.
	build func(ctx context.Context, worker int) (req *http.Request, done func(), err error)
	// check says whether an answer is the one expected.
	check func(status int, body []byte) error
	// starved, if not nil, is the total time workers have waited for a request to become
	// possible (TOTP: for a fresh code); it is reported because it caps throughput.
	starved func() time.Duration
	// rate, when not 0, paces the scenario: requests start on a schedule, rate a second
	// in all, each as soon as a worker is free, and its latency counts from when it was
	// due, so a server that falls behind shows it (no coordinated omission).
	rate int
	// settle, if not nil, runs after the measured load, before the CPU times are read:
	// background work the load caused (PostgreSQL's vacuum) is charged to this row, not
	// left to fall into a later one. It is not timed: throughput and latency are the load's.
	settle func(ctx context.Context) error
}

type measurement struct {
	requests  int // right answers: what the throughput, the latencies and CPU/request count
	errors    int // wrong answers and failed requests
	errSample []string
	elapsed   time.Duration
	lat       []time.Duration // of the right answers, sorted
	cpu       cpuSplit        // CPU time over the measurement: the server's, and where the rest went
	starved   time.Duration   // worker time spent waiting in build
	conc      int
	rss       int // KiB: the server's VmRSS as the measurement ended, 0 if unread
	// unsent, in a paced row, is the requests that fell due before the time was up and
	// were never sent, since no worker was free: the server fell behind by that many.
	unsent int
}

// starvedShare is the share of the workers' time spent waiting for a request to be possible.
func (m measurement) starvedShare() float64 {
	if m.starved == 0 {
		return 0 // and not 0/0 for a round of no workers' time
	}
	return m.starved.Seconds() / (float64(m.conc) * m.elapsed.Seconds())
}

func (m measurement) throughput() float64 { return float64(m.requests) / m.elapsed.Seconds() }

func (m measurement) quantile(q float64) time.Duration { return quantile(m.lat, q) }

// quantile is the q-quantile of sorted by nearest rank, the ceil(q·n)-th smallest (the p99
// of 100 is the 99th, not the largest), 0 for none. The rank is rounded to within 1e-9 first,
// so that a product such as 0.07·100, 7.000000000000001, is not taken for a rank above 7.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)) - 1e-9))
	return sorted[min(len(sorted), max(rank, 1))-1]
}

// run drives s with conc workers: warmup first (not counted), then duration measured.
func (s *scenario) run(ctx context.Context, conc int, warmup, duration time.Duration) (measurement, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, IdleConnTimeout: time.Minute,
		DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if warmup > 0 {
		if _, err := s.loop(ctx, client, conc, warmup); err != nil {
			return measurement{}, err
		}
	}
	pid, stub := s.pid(), 0
	if s.stub != nil {
		stub = s.stub()
	}
	var starved0 time.Duration
	if s.starved != nil {
		starved0 = s.starved()
	}
	cpu0, err := readCPU(pid, stub)
	if err != nil {
		return measurement{}, err
	}
	m, err := s.loop(ctx, client, conc, duration)
	if err != nil {
		return measurement{}, err
	}
	m.rss, _ = rssKiB(pid) // an ended server is the run's error (runOutcome), not this row's
	if s.settle != nil {
		if err := s.settle(ctx); err != nil {
			return measurement{}, err
		}
	}
	cpu1, err := readCPU(pid, stub)
	if err != nil {
		return measurement{}, err
	}
	m.cpu, m.conc = cpu1.minus(cpu0), conc
	if s.starved != nil {
		m.starved = s.starved() - starved0
	}
	return m, nil
}

type workerResult struct {
	sent      int
	lat       []time.Duration
	errors    int
	errSample []string
}

func (s *scenario) loop(ctx context.Context, client *http.Client, conc int, d time.Duration) (measurement, error) {
	deadline := time.Now().Add(d)
	// build may wait (for a fresh TOTP step) but not past the deadline; a request sent
	// before the deadline is answered and counted.
	buildCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	results := make([]workerResult, conc)
	var wg sync.WaitGroup
	start := time.Now()
	var due <-chan time.Time
	if s.rate > 0 {
		due = pace(buildCtx, start, s.rate)
	}
	for w := range conc {
		wg.Go(func() {
			r := &results[w]
			r.lat = make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				var t0 time.Time
				if due != nil {
					var ok bool
					if t0, ok = <-due; !ok {
						return // the deadline passed, or Ctrl-C
					}
				}
				req, done, err := s.build(buildCtx, w)
				if err != nil {
					return // the deadline passed, or Ctrl-C
				}
				if due == nil {
					t0 = time.Now()
				}
				r.sent++
				resp, err := client.Do(req.WithContext(ctx))
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				lat := time.Since(t0)
				if done != nil {
					done()
				}
				if ctx.Err() != nil {
					return
				}
				if err == nil {
					err = s.check(resp.StatusCode, body)
				}
				if err != nil {
					r.errors++
					if len(r.errSample) < 3 {
						r.errSample = append(r.errSample, err.Error())
					}
					continue
				}
				r.lat = append(r.lat, lat)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return measurement{}, err
	}
	m := measurement{elapsed: time.Since(start)}
	sent := 0
	for _, r := range results {
		sent += r.sent
		m.lat = append(m.lat, r.lat...)
		m.errors += r.errors
		for _, e := range r.errSample {
			if len(m.errSample) < 5 {
				m.errSample = append(m.errSample, e)
			}
		}
	}
	m.requests = len(m.lat)
	slices.Sort(m.lat)
	if s.rate > 0 {
		m.unsent = max(0, dueBefore(deadline.Sub(start), s.rate)-sent)
	}
	return m, nil
}

// dueBefore is how many requests pace schedules in the first d at rate a second.
func dueBefore(d time.Duration, rate int) int {
	n := 0
	for time.Duration(n)*time.Second/time.Duration(rate) < d {
		n++
	}
	return n
}

// pace hands out the times requests are due, rate a second from start, until ctx ends. A
// due time waits for a free worker, so a server that falls behind builds a backlog, which
// the latencies then show.
func pace(ctx context.Context, start time.Time, rate int) <-chan time.Time {
	ch := make(chan time.Time)
	go func() {
		defer close(ch)
		t := time.NewTimer(0)
		defer t.Stop()
		for i := 0; ; i++ {
			due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
			if d := time.Until(due); d > 0 {
				t.Reset(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
			}
			select {
			case ch <- due:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// expectStatus200 wraps a body check with the HTTP status check.
func expect200(check func(body []byte) error) func(int, []byte) error {
	return func(status int, body []byte) error {
		if status != http.StatusOK {
			return fmt.Errorf("HTTP %d: %.200s", status, body)
		}
		return check(body)
	}
}
