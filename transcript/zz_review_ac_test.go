package transcript

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
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

// TestReviewRecordedVendorPathHidesThePasscode: a vendor that takes the user's code in
// its URL's path (POST /v1/otp/806795/verify) must not find it in the recording — where
// it would also never match replay's request, which carries <redacted> in its place.
func TestReviewRecordedVendorPathHidesThePasscode(t *testing.T) {
	const code = "806795"
	r := &Recorder{o: RecorderOptions{Config: "providers: []\n"}}
	u, _ := url.Parse("https://otp.example.com/v1/otp/" + code + "/verify")
	calls := []Observed{{
		Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Provider: "otp", Resource: "validate", Method: "POST", Status: 200,
		Request:   []byte(`{"capability":"totp","id":"t1","attributes":{"username":"alice","passvalue":"` + code + `"}}`),
		Response:  []byte(`{"status":"SUCCESS"}`),
		Exchanges: []provider.Exchange{{Method: "POST", URL: u, Status: 200, ResponseBody: []byte(`{"ok":true}`)}},
	}}
	tr := r.transcript(calls)
	data, err := Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), code) {
		t.Errorf("the recording carries the user's code %s:\n%s", code, data)
	}
	// What replay's emfa sends in the code's place still matches.
	sc := &scope{vars: map[string]string{}}
	if m := sc.match("path", tr.Steps[0].Vendor[0].Request.Path, "/v1/otp/<redacted>/verify"); m != nil {
		t.Errorf("replay's request does not match: %v", m)
	}
}
