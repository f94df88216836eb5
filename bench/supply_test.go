package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// round is one TOTP round of req/s answers in 1 s on 64 workers, whose workers waited for
// fresh codes share of their time, with p50 = p99 = lat and 100 µs of server CPU each.
func supplyRound(reqs int, share float64, lat time.Duration) measurement {
	m := measurement{requests: reqs, elapsed: time.Second, conc: 64,
		starved: time.Duration(share * 64 * float64(time.Second)), cpu: cpuSplit{server: time.Duration(reqs) * 100 * time.Microsecond}}
	for range reqs {
		m.lat = append(m.lat, lat)
	}
	return m
}

// A round that ran out of fresh TOTP codes measures the codes' supply, not emfa: its
// req/s (and its latencies, at fewer requests in flight) are left out of the row's
// medians when other rounds did not run out, and the row says how many were. A row whose
// median round did not starve but another did is flagged too: until now only a median
// starvation above 1 % was, and a starved round could be the median of req/s unflagged.
func TestSupplyLimitedRoundsLeftOut(t *testing.T) {
	ms := []measurement{
		supplyRound(2000, 0.60, time.Millisecond), // starved: the code supply
		supplyRound(6800, 0, 9*time.Millisecond),
		supplyRound(6600, 0.001, 8*time.Millisecond), // under 1 %: not starved
	}
	x := summarise(ms)
	if x.tput != 6700 {
		t.Errorf("req/s %v, want 6700: the median of the two rounds that had codes", x.tput)
	}
	if x.p50 != 8500*time.Microsecond || x.p99 != 8500*time.Microsecond {
		t.Errorf("p50 %v, p99 %v; want 8.5ms, the unstarved rounds' median", x.p50, x.p99)
	}
	if x.starvedRounds != 1 || x.rounds != 3 {
		t.Errorf("%d of %d rounds starved, want 1 of 3", x.starvedRounds, x.rounds)
	}

	s := &scenario{name: "TOTP validate · emfa PostgreSQL"}
	var out bytes.Buffer
	report(options{out: &out, rounds: 3, factors: 20000, period: 10}, machine{}, []*scenario{s}, map[*scenario][]measurement{s: ms}, nil, memReport{}, nil, nil)
	if !strings.Contains(out.String(), "| TOTP validate · emfa PostgreSQL ⚠ supply-limited in 1 of 3 rounds (workers waited for fresh codes up to 60% of the time), left out of its figures | 6700 |") {
		t.Errorf("a row with one starved round of three:\n%s", out.String())
	}
	// The row says how many factors would have fed it: its rate times the period.
	if !strings.Contains(out.String(), "-factors of at least 68000") {
		t.Errorf("no -factors advice from the unstarved rate (6,800/s × 10 s):\n%s", out.String())
	}
}

// A row that ran out of codes in every round keeps all its rounds, says its req/s is a
// floor, and the advice estimates the rate from the time the workers did not wait.
func TestSupplyLimitedEveryRound(t *testing.T) {
	ms := []measurement{supplyRound(2000, 0.5, time.Millisecond), supplyRound(2100, 0.66, time.Millisecond), supplyRound(1900, 0.31, time.Millisecond)}
	x := summarise(ms)
	if x.tput != 2000 || x.starvedRounds != 3 {
		t.Errorf("req/s %v with %d starved rounds; want 2000 and 3", x.tput, x.starvedRounds)
	}
	s := &scenario{name: "TOTP validate · emfa PostgreSQL"}
	var out bytes.Buffer
	report(options{out: &out, rounds: 3, factors: 20000, period: 10}, machine{}, []*scenario{s}, map[*scenario][]measurement{s: ms}, nil, memReport{}, nil, nil)
	got := out.String()
	if !strings.Contains(got, "| TOTP validate · emfa PostgreSQL ⚠ supply-limited in every round (workers waited for fresh codes up to 66% of the time): its req/s is the code supply, a floor of emfa's | 2000 |") {
		t.Errorf("a row starved in every round:\n%s", got)
	}
	// 2,100/s with the workers waiting 66 % of the time: some 6,176/s had they not.
	if !strings.Contains(got, "-factors of at least 62000") {
		t.Errorf("no -factors advice from the estimated rate:\n%s", got)
	}

	// A row that answered nothing (the warm-up used every code) gives no rate to size the
	// factors from: the advice is more than there were, not "at least 0".
	out.Reset()
	report(options{out: &out, rounds: 1, factors: 200, period: 10}, machine{}, []*scenario{s},
		map[*scenario][]measurement{s: {supplyRound(0, 1, 0)}}, nil, memReport{}, nil, nil)
	if got := out.String(); !strings.Contains(got, "run with -factors well above 200 (no round was fed long enough to estimate") || strings.Contains(got, "at least 0") {
		t.Errorf("advice for a row that answered nothing:\n%s", got)
	}

	// Rows that never waited are not flagged, nor is a round with no workers' time.
	s2 := &scenario{name: "TOTP validate · emfa SQLite"}
	out.Reset()
	report(options{out: &out, rounds: 2, factors: 20000, period: 10}, machine{}, []*scenario{s2},
		map[*scenario][]measurement{s2: {supplyRound(5000, 0, time.Millisecond), {elapsed: time.Second}}}, nil, memReport{}, nil, nil)
	if strings.Contains(out.String(), "supply") || strings.Contains(out.String(), "-factors of") {
		t.Errorf("a row that never waited is flagged:\n%s", out.String())
	}
}
