package transcript

import (
	"strings"
	"testing"
)

// TestRecordedConfigHoldsNoToken: a recording copies the configuration with every secret
// redacted, the metrics and SCIM bearer tokens and the OAuth signing key among them.
func TestRecordedConfigHoldsNoToken(t *testing.T) {
	cfg := `server:
  auth:
    basic: {username: verify, password: verify-password-0123456}
    oauth: {signingKey: "-----BEGIN EC PRIVATE KEY-----SIGNINGKEYSECRET"}
metrics:
  token: METRICS-TOKEN-SECRET-0123
sync:
  scim: {enabled: true, token: SCIM-TOKEN-SECRET-0123}
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
`
	out, _ := redactConfig(cfg)
	for _, secret := range []string{"verify-password-0123456", "METRICS-TOKEN-SECRET-0123", "SCIM-TOKEN-SECRET-0123", "SIGNINGKEYSECRET"} {
		if strings.Contains(out, secret) {
			t.Errorf("the recorded configuration holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "credentialPrefix: emfa") {
		t.Errorf("the recorded configuration lost what is no secret:\n%s", out)
	}
}
