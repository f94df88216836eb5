package config

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestSecretFileUTF16: Windows PowerShell 5.1 writes UTF-16 with `>` and Out-File
// by default (a byte-order mark FF FE, then two bytes a character, CRLF after): a secret
// file so written was read as bytes, a NUL after every letter of the password, and every
// call Verify made with the password it was given was refused, with no word at load. It
// is read as its text, little- or big-endian.
func TestSecretFileUTF16(t *testing.T) {
	const want = "utf16-password-0123456"
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		var b []byte
		for _, u := range utf16.Encode([]rune("\ufeff" + want + "\r\n")) {
			b = order.AppendUint16(b, u)
		}
		pw := writeSecret(t, string(b), 0o600)
		y := strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:"+pw+"}", 1)
		cfg, err := Parse([]byte(y), "yaml", env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey}))
		if err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		if got := cfg.Server.Auth.Basic.Password.Reveal(); got != want {
			t.Errorf("%v: password = %q", order, got)
		}
	}
	// An odd number of bytes after the mark is no UTF-16: refused, naming the file only.
	pw := writeSecret(t, "\xff\xfea\x00b", 0o600)
	y := strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:"+pw+"}", 1)
	if _, err := Parse([]byte(y), "yaml", env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey})); err == nil || !strings.Contains(err.Error(), "UTF-16") {
		t.Errorf("odd UTF-16: %v", err)
	}
}
