package builtin_test

import (
	"bytes"
	"testing"

	"github.com/emfa/emfa/provider/builtin"
)

// TestKeyringFingerprintKey: the key of the idempotency fingerprints is the current key's,
// whatever previous keys there are (every replica with the same storage.encryptionKey
// has it), is another with another current key, and is not the sealing key itself.
func TestKeyringFingerprintKey(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	ring := func(keys ...[]byte) []byte {
		k, err := builtin.NewKeyring(keys[0], keys[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		return k.FingerprintKey()
	}
	fa := ring(a)
	if len(fa) != 32 || bytes.Equal(fa, a) {
		t.Fatalf("fingerprint key %x of key %x", fa, a)
	}
	if !bytes.Equal(ring(a, b), fa) {
		t.Error("a previous key changed the fingerprint key")
	}
	if bytes.Equal(ring(b, a), fa) {
		t.Error("another current key, the same fingerprint key")
	}
}
