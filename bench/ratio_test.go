package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The ratio table of a run whose anchor row answered nothing (the bare mediator all
// errors, or every round empty) prints "–" where a ratio or a difference has nothing to
// stand on, not +Inf, NaN or a p50 difference against a p50 that was never measured.
func TestRatioWithoutAnchor(t *testing.T) {
	names := []string{"enrollments · bare Go mediator", "enrollments · emfa (duo.yaml)", "preauth · DUO stub direct"}
	rows := func(counts ...int) ([]*scenario, map[*scenario][]measurement) {
		var ss []*scenario
		res := map[*scenario][]measurement{}
		for i, n := range names {
			s := &scenario{name: n}
			ss = append(ss, s)
			m := measurement{requests: counts[i], errors: 5, elapsed: time.Second, cpu: cpuSplit{server: time.Duration(counts[i]) * 100 * time.Microsecond}}
			for range counts[i] {
				m.lat = append(m.lat, time.Millisecond)
			}
			res[s] = []measurement{m}
		}
		return ss, res
	}
	for _, tc := range []struct {
		counts []int
		want   string
	}{
		{[]int{0, 10, 10}, "| enrollments (DUO preauth) | – | – | +0 µs | – |"},            // the bare mediator answered nothing
		{[]int{0, 0, 10}, "| enrollments (DUO preauth) | – | – | – | – |"},                 // neither did emfa
		{[]int{10, 0, 10}, "| enrollments (DUO preauth) | 0.00 | +0 µs | – | – |"},         // emfa answered nothing
		{[]int{10, 10, 0}, "| enrollments (DUO preauth) | 1.00 | – | – | 1.0× |"},          // the stub direct answered nothing
		{[]int{10, 20, 10}, "| enrollments (DUO preauth) | 2.00 | +0 µs | +0 µs | 1.0× |"}, // all answered
	} {
		ss, res := rows(tc.counts...)
		var out bytes.Buffer
		report(options{out: &out, rounds: 1}, machine{}, ss, res, nil, memReport{}, nil, nil)
		got := out.String()
		if !strings.Contains(got, tc.want) || strings.Contains(got, "Inf") || strings.Contains(got, "NaN") {
			t.Errorf("answers %v: want %q in\n%s", tc.counts, tc.want, got)
		}
	}
}
