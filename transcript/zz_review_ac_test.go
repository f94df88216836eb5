package transcript

import (
	"strings"
	"testing"
)

// TestReviewRecordedConfigRedactsEnvDefault: a secret written as the default of a
// ${NAME:-default} under a secret key (the value serving used when NAME was unset) must
// not be copied into a recording's configuration in clear.
func TestReviewRecordedConfigRedactsEnvDefault(t *testing.T) {
	cfg := `server:
  auth:
    basic: {username: verify, password: "${VERIFY_PW:-pw-default-0123456}"}
    header: {name: X-Secret, value: "${HDR:-short}"}
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
`
	out, env := redactConfig(cfg, newSecretValues([]string{"pw-default-0123456", "short"}), nil)
	for _, secret := range []string{"pw-default-0123456", "short"} {
		if strings.Contains(out, secret) {
			t.Errorf("the recorded configuration holds %q:\n%s", secret, out)
		}
	}
	if env["VERIFY_PW"] != redacted || env["HDR"] != redacted {
		t.Errorf("env = %v, want VERIFY_PW and HDR listed <redacted>", env)
	}
}
