package config

import (
	"strings"
	"testing"
)

// An encryption key made with `openssl rand -hex 32`, the other command an operator
// reaches for, was refused as "malformed key: decodes to 48 bytes, want 32": 64 hex
// digits read as base64, a count the operator never wrote. The refusal now says what to
// write, and that hex is not read as such; so does a key that is not base64 at all.
func TestMalformedKeySaysWhatToWrite(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	for _, key := range []Secret{Secret(hex), "not base64!", "c2hvcnQ="} {
		_, err := DecodeKey(key)
		if err == nil {
			t.Fatalf("%q: accepted", key)
		}
		if !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("%q: %q does not say what to write", key, err)
		}
		if strings.Contains(err.Error(), string(key)) {
			t.Errorf("%q: the refusal quotes the key: %q", key, err)
		}
	}
	if _, err := DecodeKey(Secret(hex)); !strings.Contains(err.Error(), "hex") {
		t.Errorf("64 hex digits: %q does not say that hex is not read", err)
	}
}
