package transcript

import (
	"strings"
	"testing"
	"time"
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
	out, _ := redactConfig(cfg, nil)
	for _, secret := range []string{"verify-password-0123456", "METRICS-TOKEN-SECRET-0123", "SCIM-TOKEN-SECRET-0123", "SIGNINGKEYSECRET"} {
		if strings.Contains(out, secret) {
			t.Errorf("the recorded configuration holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "credentialPrefix: emfa") {
		t.Errorf("the recorded configuration lost what is no secret:\n%s", out)
	}
}

// TestRecordedClockCrossesAStep: two calls 900 ms apart on either side of a TOTP step
// boundary replay on either side of it too: the gap is kept to the millisecond.
func TestRecordedClockCrossesAStep(t *testing.T) {
	r := &Recorder{o: RecorderOptions{Config: "providers: []\n"}}
	t0 := time.Date(2026, 1, 1, 0, 0, 29, 500_000_000, time.UTC)
	call := func(at time.Time) Observed {
		return Observed{Time: at, Provider: "emfa", Resource: "validate", Method: "POST", Status: 200,
			Request:  []byte(`{"capability":"totp","id":"f","attributes":{"username":"alice","passvalue":"1"}}`),
			Response: []byte(`{"status":"SUCCESS"}`)}
	}
	for _, tc := range []struct {
		second time.Duration
		want   time.Duration
	}{
		{900 * time.Millisecond, 900 * time.Millisecond}, // 29.5 → 30.4: across the step
		{300 * time.Millisecond, 0},                      // 29.5 → 29.8: within it, no advance written
	} {
		tr := r.transcript([]Observed{call(t0), call(t0.Add(tc.second))})
		var adv time.Duration
		for _, s := range tr.Steps {
			adv += time.Duration(s.Advance)
		}
		if adv != tc.want {
			t.Errorf("a call %v after the first replays %v after it, want %v", tc.second, adv, tc.want)
		}
	}
}
