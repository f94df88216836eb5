package config

import (
	"strings"
	"testing"
)

// TestSecretFileBOM: a secret file written by Windows PowerShell (Out-File or
// Set-Content -Encoding UTF8: a byte-order mark before the text, CRLF after it) is read
// as its text. The CRLF was dropped and the mark kept, invisible, at the front of the
// password: every call Verify made with the password it was given was refused, with no
// word at load.
func TestSecretFileBOM(t *testing.T) {
	pw := writeSecret(t, "\ufeffbom-password-0123456\r\n", 0o600)
	y := strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:"+pw+"}", 1)
	cfg, err := Parse([]byte(y), "yaml", env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Server.Auth.Basic.Password.Reveal(); got != "bom-password-0123456" {
		t.Errorf("password = %q", got)
	}
	// A file holding the mark alone is empty.
	empty := writeSecret(t, "\ufeff\r\n", 0o600)
	y = strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:"+empty+"}", 1)
	if _, err := Parse([]byte(y), "yaml", env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey})); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("a mark alone: %v", err)
	}
}
