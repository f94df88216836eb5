package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUnquotedNumericSecretKeepsItsText: a secret written without quotes that YAML
// reads as a number (digits with a leading zero, too many digits for an int, hex, an
// exponent, underscores) is the text written, not the number printed back: before, the
// password 0012345678901234567 became "1.2345678901234568e+16", still long enough to
// pass, and every call Verify made with the real one was refused.
func TestUnquotedNumericSecretKeepsItsText(t *testing.T) {
	for _, lit := range []string{
		"0012345678901234567",
		"12345678901234567890123",
		"0x1234567890abcdef",
		"1234_5678_9012_3456",
		"1234567890123456e10",
		"1234567890123456.0",
	} {
		t.Run(lit, func(t *testing.T) {
			y := `
server:
  auth:
    basic: {username: verify, password: ` + lit + `}
storage:
  dsn: "file:/var/lib/emfa/emfa.db"
  encryptionKey: "` + testKey + `"
providers:
  - {name: A, credentialPrefix: a, capabilities: [totp]}
`
			c, err := Parse([]byte(y), "yaml", env(nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Server.Auth.Basic.Password.Reveal(); got != lit {
				t.Errorf("password = %q, want %q as written", got, lit)
			}
		})
	}
	// Numbers where numbers go still read as numbers.
	c, err := Parse([]byte(`
server:
  maxBodyBytes: 1_000
  auth: {basic: {username: verify, password: "0123456789abcdef0"}}
storage:
  dsn: "file:/var/lib/emfa/emfa.db"
  encryptionKey: "`+testKey+`"
  maxConnections: 8
providers:
  - {name: A, credentialPrefix: a, capabilities: [totp]}
`), "yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.MaxBodyBytes != 1000 || c.Storage.MaxConnections != 8 {
		t.Errorf("maxBodyBytes %d, maxConnections %d: want 1000, 8", c.Server.MaxBodyBytes, c.Storage.MaxConnections)
	}
	// An engine's section keeps the number for JSON (the remote engine decodes through it).
	c, err = Parse([]byte(`
server:
  auth: {basic: {username: verify, password: "0123456789abcdef0"}}
storage:
  dsn: "file:/var/lib/emfa/emfa.db"
  encryptionKey: "`+testKey+`"
providers:
  - name: A
    credentialPrefix: a
    capabilities: [totp]
    engine: remote
    remote: {urls: ["https://v.example"], maxResponseBytes: 1_048_576}
`), "yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := json.Marshal(c.Providers[0].Remote); !strings.Contains(string(data), `"maxResponseBytes":1048576`) {
		t.Errorf("remote section as JSON: %s", data)
	}
}
