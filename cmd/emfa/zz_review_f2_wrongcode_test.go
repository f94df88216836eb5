package main

import (
	"slices"
	"strings"
	"testing"
)

// notAmong returns a 6-digit code that is none of codes. A fixed wrong code ("000000")
// is the right one, for a real clock or a random secret, about once in a million steps:
// a test that sends it to be refused then fails by chance.
func notAmong(codes ...string) string {
	for d := byte('0'); ; d++ {
		if c := strings.Repeat(string(d), 6); !slices.Contains(codes, c) {
			return c
		}
	}
}

// TestReviewNotAmong: the code is none of those given, however many of the usual wrong
// codes they hold.
func TestReviewNotAmong(t *testing.T) {
	for _, codes := range [][]string{nil, {"000000"}, {"000000", "111111", "222222", "333333"}, {"123456", "000000"}} {
		if got := notAmong(codes...); len(got) != 6 || slices.Contains(codes, got) {
			t.Errorf("notAmong(%q) = %q", codes, got)
		}
	}
}
