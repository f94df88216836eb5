package main

import (
	"strings"
	"testing"
)

// `emfa totp code --time 0` printed the code of now, not of the Unix epoch the flag names
// (0 was taken for "not given"), and a negative --time printed the code of a step 2^64
// minus something, a code no token shows. Now 0 is the epoch (RFC 4226's count 0:
// 84755224 in 8 digits for the RFC's seed) and a negative time is a usage error.
func TestTOTPCodeTimeZero(t *testing.T) {
	const rfcSeed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // "12345678901234567890"
	app := fakeCLI()                                   // its clock is now, far from the epoch
	if got := strings.TrimSpace(app.must(t, "totp", "code", "--secret", rfcSeed, "--digits", "8", "--time", "0")); got != "84755224" {
		t.Errorf("totp code --time 0: %s, want 84755224 (the epoch's)", got)
	}
	// The command's own example of the flag, RFC 6238's first vector.
	if got := strings.TrimSpace(app.must(t, "totp", "code", "--secret", rfcSeed, "--digits", "8", "--time", "59")); got != "94287082" {
		t.Errorf("totp code --time 59: %s, want 94287082", got)
	}
	code, out, errOut := app.run(t, "totp", "code", "--secret", rfcSeed, "--time", "-1")
	if code != 2 || out != "" || !strings.Contains(errOut, "--time") {
		t.Errorf("totp code --time -1: exit %d, %q, %q; want a usage error naming --time", code, out, errOut)
	}
}
