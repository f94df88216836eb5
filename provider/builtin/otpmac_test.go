package builtin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"testing"
)

// TestOTPMACMatchesHMAC: the codes of the pooled, keyed MAC are crypto/hmac's, for
// seeds shorter than, as long as and longer than each hash's block (hashed first), one
// MAC reused across seeds and algorithms as the pool reuses them.
func TestOTPMACMatchesHMAC(t *testing.T) {
	t.Parallel()
	for _, alg := range []Algorithm{SHA1, SHA256, SHA512} {
		for _, n := range []int{0, 1, 16, 20, 32, 63, 64, 65, 127, 128, 129, 200} {
			seed := make([]byte, n)
			rand.Read(seed)
			ref := hmac.New(alg.hash(), seed)
			for _, c := range []uint64{0, 1, 59 / 30, 1 << 40, 1<<63 - 1, 1<<64 - 1} {
				want := hotp(ref, c, new([sha512.Size]byte))
				m := keyedMAC(alg, seed)
				got, ok := m.value(c)
				m.release()
				if !ok || got != want {
					t.Errorf("%s, %d-byte seed, counter %d: %d (%v), want %d", alg, n, c, got, ok, want)
				}
			}
		}
	}
}
