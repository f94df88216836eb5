package retryafter

import (
	"math"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"9999999999", math.MaxInt64, true}, // past a Duration's seconds (~292 years)
		{"86400", 24 * time.Hour, true},
		{"99999999999999999999", math.MaxInt64, true}, // past uint64
		{"18446744073709551615", math.MaxInt64, true}, // past a Duration's seconds
		{"Mon, 07 Dec 2026 00:05:00 GMT", 5 * time.Minute, true},
		{"Sun, 06 Dec 2026 23:00:00 GMT", 0, true}, // a date past
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	} {
		got, ok := Parse(c.v, now)
		if got != c.want || ok != c.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}
