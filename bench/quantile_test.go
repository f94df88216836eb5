package main

import (
	"testing"
	"time"
)

// A q-quantile of n sorted samples is the ceil(q·n)-th smallest (nearest rank): the p99 of
// 100 samples is the 99th, not the largest, and the p50 of 4 is the 2nd, not the 3rd.
func TestQuantile(t *testing.T) {
	seq := func(n int) []time.Duration {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i + 1)
		}
		return s
	}
	for _, c := range []struct {
		n    int
		q    float64
		want time.Duration
	}{
		{100, 0.99, 99}, {100, 0.5, 50}, {4, 0.5, 2}, {2, 0.5, 1}, {1, 0.5, 1}, {1, 0.99, 1},
		{1000, 0.99, 990}, {10, 0.99, 10}, {3, 0.5, 2}, {200, 0.99, 198}, {100, 0, 1}, {100, 0.07, 7},
	} {
		if got := quantile(seq(c.n), c.q); got != c.want {
			t.Errorf("quantile of 1..%d at %v = %d, want %d", c.n, c.q, got, c.want)
		}
	}
	if got := quantile(nil, 0.99); got != 0 {
		t.Errorf("quantile of none = %d, want 0", got)
	}
}
