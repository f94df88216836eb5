package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A round in which a row had no right answer (a paced TOTP row out of fresh codes) has no
// p50, p99 or CPU per request: it does not enter their medians as 0, and a row with no
// answer in any round prints "–", not "0 µs".
func TestEmptyRounds(t *testing.T) {
	ms := []measurement{
		{elapsed: time.Second},
		{requests: 2, lat: []time.Duration{4 * time.Millisecond, 6 * time.Millisecond}, elapsed: time.Second, cpu: cpuSplit{server: 20 * time.Millisecond}},
		{requests: 2, lat: []time.Duration{8 * time.Millisecond, 10 * time.Millisecond}, elapsed: time.Second, cpu: cpuSplit{server: 40 * time.Millisecond}},
	}
	x := summarise(ms)
	if x.p50 != 6*time.Millisecond || x.p99 != 8*time.Millisecond {
		t.Errorf("p50 %v p99 %v, want 6ms and 8ms: the medians of the two rounds that had answers", x.p50, x.p99)
	}
	if x.split.server != 15*time.Millisecond {
		t.Errorf("server CPU per request %v, want 15ms", x.split.server)
	}
	if x.tput != 2 {
		t.Errorf("throughput %v, want 2/s: the empty round's 0 is a throughput", x.tput)
	}

	s := &scenario{name: "TOTP validate · emfa SQLite · paced 2500/s", rate: 2500}
	var out bytes.Buffer
	report(options{out: &out, rounds: 1}, machine{}, []*scenario{s}, map[*scenario][]measurement{s: {{elapsed: time.Second}}}, nil, memReport{}, nil, nil)
	if !strings.Contains(out.String(), "| TOTP validate · emfa SQLite · paced 2500/s | 0 | – | – | – | 0 / 0 |") {
		t.Errorf("a row with no answer:\n%s", out.String())
	}
}
