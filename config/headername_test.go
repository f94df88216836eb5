package config

import (
	"strings"
	"testing"
)

// TestHeaderNameMissing: a header section without a name (as
// EMFA_SERVER_AUTH_HEADER_VALUE alone makes one) says the name is missing, not that ""
// is "not an HTTP header name".
func TestHeaderNameMissing(t *testing.T) {
	y := `
server:
  auth:
    header: {value: "0123456789abcdef0123"}
storage:
  dsn: "file:/var/lib/emfa/emfa.db"
  encryptionKey: "` + testKey + `"
providers:
  - {name: A, credentialPrefix: a, capabilities: [totp]}
`
	_, err := Parse([]byte(y), "yaml", env(nil))
	if err == nil || !strings.Contains(err.Error(), "server.auth.header.name: must not be empty") {
		t.Fatalf("got %v, want server.auth.header.name: must not be empty", err)
	}
}
