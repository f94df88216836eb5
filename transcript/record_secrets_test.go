package transcript

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
)

// TestRecordedConfigRedactsEnvDefault: a secret written as the default of a
// ${NAME:-default} under a secret key (the value serving used when NAME was unset) must
// not be copied into a recording's configuration in clear.
func TestRecordedConfigRedactsEnvDefault(t *testing.T) {
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

// TestRecordedVendorPathHidesThePasscode: a vendor that takes the user's code in
// its URL's path (POST /v1/otp/806795/verify) must not find it in the recording — where
// it would also never match replay's request, which carries <redacted> in its place.
func TestRecordedVendorPathHidesThePasscode(t *testing.T) {
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

// TestAnswerWithTrailingDataFails: an answer that is a JSON value followed by more
// (a second body written after the first: {"status":"SUCCESS"}{"messageId":…}) is no JSON
// Verify can read; replay must not pass it as the first value alone — nor a vendor
// request's body of that kind.
func TestAnswerWithTrailingDataFails(t *testing.T) {
	tr, err := Parse([]byte(`
name: one answer
config: "irrelevant"
steps:
  - call: {resource: validate, body: {capability: totp, id: f1, attributes: {username: alice, passvalue: "1"}}}
    expect: {body: {status: SUCCESS}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, answer := range []string{`{"status":"SUCCESS"}{"messageId":"internal_error"}`, `{"status":"SUCCESS"} trailing`} {
		err := Run(context.Background(), tr, func(context.Context, *Transcript, string) (Env, func(), error) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, answer)
			}))
			return stubEnv{url: srv.URL}, srv.Close, nil
		})
		if err == nil {
			t.Errorf("answer %s: replay passed", answer)
		}
	}
	err = runOneExchange(t, `{method: POST, path: /v1/push, body: {user: alice}}`,
		vendorCall{method: "POST", target: "/v1/push", contentType: "application/json", body: `{"user":"alice"}{"debug":true}`})
	if err == nil {
		t.Error("a vendor body with trailing data: replay passed")
	}
	if err := runOneExchange(t, `{method: POST, path: /v1/push, body: {user: alice}}`,
		vendorCall{method: "POST", target: "/v1/push", contentType: "application/json", body: "{\"user\":\"alice\"}\n"}); err != nil {
		t.Errorf("a body with a trailing newline: %v", err)
	}
}

// TestRecordedConfigFileReferenceReplays: a secret read from a file
// (password: "${file:/run/secrets/verify-password}", as the README advises) cannot be
// read where the transcript replays: the recording writes it <redacted>, as any secret
// of the configuration, and lists no variable "file".
func TestRecordedConfigFileReferenceReplays(t *testing.T) {
	cfg := `server:
  auth:
    basic: {username: verify, password: "${file:/run/secrets/verify-password}"}
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
`
	out, env := redactConfig(cfg, nil, nil)
	if strings.Contains(out, "${file:") || !strings.Contains(out, `password: "<redacted>"`) {
		t.Errorf("the recorded configuration reads a file replay does not have:\n%s", out)
	}
	if _, ok := env["file"]; ok {
		t.Errorf("env lists a variable \"file\": %v", env)
	}
}

// TestRecordedClockCrossesAnyStep: a TOTP period need not be a multiple of 10 s
// (10 to 300): two calls 700 ms apart across a 15-second step (14.6 s → 15.3 s) must
// replay on either side of it, as they were served.
func TestRecordedClockCrossesAnyStep(t *testing.T) {
	r := &Recorder{o: RecorderOptions{Config: "providers: []\n"}}
	t0 := time.Date(2026, 1, 1, 0, 0, 14, 600_000_000, time.UTC)
	call := func(at time.Time) Observed {
		return Observed{Time: at, Provider: "emfa", Resource: "validate", Method: "POST", Status: 200,
			Request:  []byte(`{"capability":"totp","id":"f","attributes":{"username":"alice","passvalue":"1"}}`),
			Response: []byte(`{"status":"SUCCESS"}`)}
	}
	tr := r.transcript([]Observed{call(t0), call(t0.Add(700 * time.Millisecond))})
	var adv time.Duration
	for _, s := range tr.Steps {
		adv += time.Duration(s.Advance)
	}
	if adv != 700*time.Millisecond {
		t.Errorf("a call 700ms later, across a 15 s TOTP step, replays %v after the first", adv)
	}
}
