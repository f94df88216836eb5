package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/provider/builtin"
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

// TestNotAmong: the code is none of those given, however many of the usual wrong
// codes they hold.
func TestNotAmong(t *testing.T) {
	for _, codes := range [][]string{nil, {"000000"}, {"000000", "111111", "222222", "333333"}, {"123456", "000000"}} {
		if got := notAmong(codes...); len(got) != 6 || slices.Contains(codes, got) {
			t.Errorf("notAmong(%q) = %q", codes, got)
		}
	}
}

// wrongTOTP is a code that none of the steps a validation at now may accept gives for
// secret (base32; SHA-1, 6 digits, 30 s, the default window of one step either side),
// nor the step after them, should the server's clock turn meanwhile.
func wrongTOTP(t *testing.T, secret string, now time.Time) string {
	t.Helper()
	seed, err := builtin.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	step := builtin.TOTPStep(now.Unix(), 30)
	var live []string
	for s := step - 1; s <= step+2; s++ {
		live = append(live, builtin.HOTP(builtin.SHA1, seed, uint64(s), 6))
	}
	return notAmong(live...)
}
