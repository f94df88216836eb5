package builtin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestHOTPRFC4226(t *testing.T) {
	t.Parallel()
	seed := []byte("12345678901234567890")
	want := strings.Fields("755224 287082 359152 969429 338314 254676 287922 162583 399871 520489")
	for counter, w := range want {
		if got := HOTP(SHA1, seed, uint64(counter), 6); got != w {
			t.Errorf("counter %d: got %s, want %s", counter, got, w)
		}
	}
}

func TestTOTPRFC6238(t *testing.T) {
	t.Parallel()
	seeds := map[Algorithm][]byte{
		SHA1:   []byte("12345678901234567890"),
		SHA256: []byte("12345678901234567890123456789012"),
		SHA512: bytes.Repeat([]byte("1234567890"), 7)[:64],
	}
	vectors := []struct {
		unix                 int64
		sha1, sha256, sha512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"}, // needs a 64-bit counter
	}
	for _, v := range vectors {
		step := uint64(TOTPStep(v.unix, 30))
		for alg, want := range map[Algorithm]string{SHA1: v.sha1, SHA256: v.sha256, SHA512: v.sha512} {
			if got := HOTP(alg, seeds[alg], step, 8); got != want {
				t.Errorf("%s at %d: got %s, want %s", alg, v.unix, got, want)
			}
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	t.Parallel()
	seed := []byte("12345678901234567890")
	enc := EncodeSecret(seed) // GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
	for _, in := range []string{enc, strings.ToLower(enc), "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", enc + "===="} {
		got, err := DecodeSecret(in)
		if err != nil || !bytes.Equal(got, seed) {
			t.Errorf("DecodeSecret(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"not base32!", "GEZDGNBV"} {
		if _, err := DecodeSecret(in); err == nil {
			t.Errorf("DecodeSecret(%q): want error", in)
		}
	}
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	old, err := NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, id, err := old.Seal([]byte("seed"), []byte("factor-1"))
	if err != nil {
		t.Fatal(err)
	}
	if id != KeyID(k1) || bytes.Contains(sealed, []byte("seed")) {
		t.Fatalf("id %s, sealed %x", id, sealed)
	}
	// After rotation the old key still opens old records; new ones use the new key.
	rotated, err := NewKeyring(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := rotated.Open(sealed, id, []byte("factor-1")); err != nil || string(plain) != "seed" {
		t.Fatalf("open after rotation: %q %v", plain, err)
	}
	if _, newID, _ := rotated.Seal([]byte("x"), nil); newID != KeyID(k2) {
		t.Errorf("new secrets sealed with %s, want %s", newID, KeyID(k2))
	}
	// Bound to the record: the same ciphertext under another factor id does not open.
	if _, err := rotated.Open(sealed, id, []byte("factor-2")); err == nil {
		t.Error("opened with the wrong associated data")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := rotated.Open(tampered, id, []byte("factor-1")); err == nil {
		t.Error("opened a tampered secret")
	}
	onlyNew, _ := NewKeyring(k2)
	if _, err := onlyNew.Open(sealed, id, []byte("factor-1")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("want ErrUnknownKey, got %v", err)
	}
	if _, err := NewKeyring([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

// BenchmarkMatchCounter is the code check of a TOTP validation with a window of 2: five
// HOTP values, one HMAC key schedule.
func BenchmarkMatchCounter(b *testing.B) {
	seed := []byte("12345678901234567890")
	code := HOTP(SHA1, seed, 1002, 6)
	b.ReportAllocs()
	for b.Loop() {
		if matchCounter(SHA1, seed, 6, code, 998, 1002) != 1002 {
			b.Fatal("no match")
		}
	}
}
