package builtin

import "testing"

// TestMatchCounterAllocsPerWindow: matching a code allocates nothing, whatever the
// number of steps tried. hotp's message and sum buffers went to the heap on every step
// (the hash is an interface), two allocations a step: three to five steps on every TOTP
// validation, twenty more for a wrong code's drift hint; and crypto/hmac's keying eight
// more a match, where a MAC keyed from the pool (otpMAC) allocates none once the pool
// holds one.
func TestMatchCounterAllocsPerWindow(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	seed := []byte("0123456789abcdefghij")
	for _, alg := range []Algorithm{SHA1, SHA256, SHA512} {
		code := HOTP(alg, seed, 1000, 6)
		one := testing.AllocsPerRun(100, func() { matchCounter(alg, seed, 6, code, 1000, 1000) })
		many := testing.AllocsPerRun(100, func() { matchCounter(alg, seed, 6, code, 990, 1010) })
		if many != 0 || one != 0 {
			t.Errorf("%s: matchCounter allocates %v times over 21 steps, %v over one; want none", alg, many, one)
		}
		if got := matchCounter(alg, seed, 6, code, 990, 1010); got != 1000 {
			t.Errorf("%s: matched %d, want 1000", alg, got)
		}
	}
}
