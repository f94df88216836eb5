package transcript

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/provider"
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
	out, _ := redactConfig(cfg, nil, nil)
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

// A vendor request's secrets are redacted by their names (api_key, X-Api-Key, auth_token,
// client_secret…) and, for the configuration's secrets, by value wherever they appear; in
// a configuration copy, a URL keeps neither its password nor its query values.
func TestRecordedExchangeRedactsByNameAndValue(t *testing.T) {
	s := newSecretValues([]string{"VENDORKEY-0123456789", "short"})
	u, _ := url.Parse("https://vendor.example.com/v1/VENDORKEY-0123456789/enroll?api_key=abc&X-Api-Key=def&user=alice&page=short")
	x := provider.Exchange{Method: "POST", URL: u, Status: 200,
		RequestHeader: http.Header{"Content-Type": {"application/json"}},
		RequestBody:   []byte(`{"auth_token":"t1","clientSecret":"c1","empty_token":"","user":"alice","note":"key=VENDORKEY-0123456789;","list":{"credential":["a","b"]}}`),
		ResponseBody:  []byte(`{"access_token":"t2","echo":"Bearer VENDORKEY-0123456789","n":42}`)}
	got := s.recordExchange(x)
	want := Exchange{
		Request: VendorRequest{Method: "POST", Path: `<re:^/v1/.+/enroll$>`,
			Query:   map[string]any{"api_key": MatchAny, "X-Api-Key": MatchAny, "user": "alice", "page": MatchAny},
			Headers: map[string]string{"Content-Type": "application/json"},
			Body: map[string]any{"auth_token": MatchAny, "clientSecret": MatchAny, "empty_token": "", "user": "alice",
				"note": `<re:^key=.+;$>`, "list": map[string]any{"credential": []any{MatchAny, MatchAny}}}},
		Response: VendorResponse{Body: map[string]any{"access_token": redacted, "echo": "Bearer " + redacted, "n": exactNumber("42")}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recorded exchange (-want +got):\n%s", diff)
	}

	cfg, _ := redactConfig(`delivery:
  gw: {type: http, url: "https://u:pw@gw.example.com/send?apikey=K&to=${TO}", body: '{"note": "VENDORKEY-0123456789"}'}
`, s, nil)
	for _, want := range []string{`https://u:%3Credacted%3E@gw.example.com/send?apikey=%3Credacted%3E&to=${TO}`, `{\"note\": \"<redacted>\"}`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("no %s in the redacted configuration:\n%s", want, cfg)
		}
	}
}

// A variable that holds a URL keeps its path in the transcript's env, not its scheme and
// host (nor a secret in the path); any other variable is <redacted> whole.
func TestRedactConfigKeepsAURLVariablesPath(t *testing.T) {
	env := map[string]string{"ACME_URL": "https://api.acme.example/api/", "GW_URL": "https://gw.example.com/hooks/VENDORKEY-0123456789",
		"HOST_URL": "https://api.acme.example", "ACME_SECRET": "s3cret/with/slashes"}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	_, got := redactConfig(`remote: {urls: ["${ACME_URL}/v1", "${HOST_URL}"], secret: "${ACME_SECRET}", gw: "${GW_URL}", other: "${UNSET}"}
`, newSecretValues([]string{"VENDORKEY-0123456789"}), lookup)
	want := map[string]string{"ACME_URL": redacted + "/api", "GW_URL": redacted + "/hooks/" + redacted,
		"HOST_URL": redacted, "ACME_SECRET": redacted, "UNSET": redacted}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}
