package transcript

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
)

// TestAnswerSecretsRedacted: a remote provider's incoming transform may hand
// the vendor's answer to Verify (attributes: body.response): a token, a key or the code
// the user typed there is as secret in emfa's answer as in the vendor's, which the
// recording redacts. It must not reach the transcript from the answer either — and the
// answer replay's emfa gives, from the redacted vendor answer, must match it.
func TestAnswerSecretsRedacted(t *testing.T) {
	const (
		token = "vendor-session-token-0123"
		code  = "806795"
	)
	r := &Recorder{o: RecorderOptions{Config: "providers: []\n"}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vendorAnswer := `{"ok":true,"session":{"access_token":"` + token + `"},"echo":"` + code + `"}`
	tr := r.transcript([]Observed{{Time: at, Provider: "acme", Resource: "validate", Method: "POST", Status: 200,
		Request:   []byte(`{"capability":"smsotp","id":"d1","transactionId":"t1","attributes":{"username":"alice","passvalue":"` + code + `"}}`),
		Response:  []byte(`{"status":"SUCCESS","attributes":{"session":{"access_token":"` + token + `"},"echo":"` + code + `"}}`),
		Exchanges: []provider.Exchange{{Method: "POST", URL: mustURL(t, "https://acme.example/check"), Status: 200, ResponseBody: []byte(vendorAnswer)}},
	}})
	data, err := Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{token, code} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the recording holds %q:\n%s", secret, data)
		}
	}
	// Replay's vendor serves the redacted answer; its emfa passes it on.
	replayed := map[string]any{"status": "SUCCESS", "attributes": map[string]any{"session": map[string]any{"access_token": redacted}, "echo": redacted}}
	sc := &scope{vars: map[string]string{}}
	if m := sc.match("body", tr.Steps[0].Expect.Body, replayed); m != nil {
		t.Errorf("the replayed answer does not match the recorded one: %v\n%s", m, data)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRecordedConfigDropsComments: the configuration a recording copies into
// every transcript kept its comments, where an operator notes what no key marks secret —
// a rotated password commented out, a key's value beside it — and where a secret of the
// configuration, redacted as a value, stayed in clear.
func TestRecordedConfigDropsComments(t *testing.T) {
	cfg := `# verify's password is verify-password-0123456 (rotate monthly)
server:
  auth:
    basic: {username: verify, password: verify-password-0123456} # was verify-password-0123456
    # password: previous-password-9876
providers:
  # the built-in factors
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
# end: verify-password-0123456
`
	out, _ := redactConfig(cfg, newSecretValues([]string{"verify-password-0123456"}), nil)
	for _, secret := range []string{"verify-password-0123456", "previous-password-9876", "#"} {
		if strings.Contains(out, secret) {
			t.Errorf("the recorded configuration holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "credentialPrefix: emfa") {
		t.Errorf("the recorded configuration lost what is no comment:\n%s", out)
	}
}

// TestRawBodySecretInAList: a Verify call's body that is not JSON is recorded as
// it came, each secret field's value redacted; a secret field holding a list or an object
// (["806795"], {"otp": …} under passvalue) kept the code in clear. The body still replays
// as refused: it is no JSON either way.
func TestRawBodySecretInAList(t *testing.T) {
	for _, body := range []string{
		`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":["806795"]},}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":{"value":"806795"}},}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":[806795, {"x": ["806795"]}]`,
	} {
		got := redactRaw(body)
		if strings.Contains(got, "806795") {
			t.Errorf("%s recorded as %s", body, got)
		}
		if callJSON([]byte(got)) {
			t.Errorf("%s recorded as %s, a body emfa accepts", body, got)
		}
	}
	// What holds no secret stays as it came.
	const plain = `{"capability":"totp","id":"f1","attributes":{"username":"alice","tags":["a"]},}`
	if got := redactRaw(plain); got != plain {
		t.Errorf("%s recorded as %s", plain, got)
	}
}

// TestRawVendorAnswerSecretsRedacted: a vendor's answer that is not JSON (a
// form, as OAuth 1 and older APIs answer; XML) was recorded with only the
// configuration's secrets redacted: a token or a seed the vendor returned under a secret
// name stayed in clear.
func TestRawVendorAnswerSecretsRedacted(t *testing.T) {
	const token = "tok-0123456789abcdef"
	s := newSecretValues(nil)
	for _, c := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "status=ok&access_token=" + token + "&user=alice"},
		{"application/xml", `<r><status>ok</status><token>` + token + `</token><user>alice</user></r>`},
		{"text/plain", `{"status":"ok","secret":"` + token + `",}`},
	} {
		x := provider.Exchange{Method: "POST", URL: mustURL(t, "https://acme.example/check"), Status: 200,
			ResponseHeader: http.Header{"Content-Type": {c.ct}}, ResponseBody: []byte(c.body)}
		got := s.recordExchange(x)
		if got.Response.Raw == nil {
			t.Fatalf("%s answer %s not recorded", c.ct, c.body)
		}
		if raw := *got.Response.Raw; strings.Contains(raw, token) || !strings.Contains(raw, "alice") && c.ct != "text/plain" {
			t.Errorf("%s answer %s recorded as %s", c.ct, c.body, raw)
		}
	}
}

// TestActivationLinkRedacted: a vendor's answer may hold a link whose query or
// fragment carries a token (an activation or enrollment link: ?token=…, #code=…), which
// a remote provider may pass on to Verify. Under a key of no secret name (link,
// activation_url) it reached the transcript in clear, in both answers; its secret
// parameters are redacted, and the answer replay's emfa passes on still matches.
func TestActivationLinkRedacted(t *testing.T) {
	const (
		token = "act-0123456789abcdef"
		code  = "reg-fedcba9876543210"
	)
	link := "https://vendor.example/activate?user=alice&token=" + token + "#code=" + code
	r := &Recorder{o: RecorderOptions{Config: "providers: []\n"}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := r.transcript([]Observed{{Time: at, Provider: "acme", Resource: "initiate", Method: "POST", Status: 200,
		Request:   []byte(`{"capability":"push","id":"d1","attributes":{"username":"alice"}}`),
		Response:  []byte(`{"status":"PENDING","transactionId":"t1","attributes":{"link":"` + link + `"}}`),
		Exchanges: []provider.Exchange{{Method: "POST", URL: mustURL(t, "https://acme.example/push"), Status: 200, ResponseBody: []byte(`{"activation_url":"` + link + `"}`)}},
	}})
	data, err := Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{token, code} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the recording holds %q:\n%s", secret, data)
		}
	}
	if !strings.Contains(string(data), "user=alice") {
		t.Errorf("the link lost what is no secret:\n%s", data)
	}
	served := tr.Steps[0].Vendor[0].Response.Body.(map[string]any)["activation_url"]
	replayed := map[string]any{"status": "PENDING", "transactionId": "t2", "attributes": map[string]any{"link": served}}
	sc := &scope{vars: map[string]string{}}
	if m := sc.match("body", tr.Steps[0].Expect.Body, replayed); m != nil {
		t.Errorf("the replayed answer does not match the recorded one: %v\n%s", m, data)
	}
}
