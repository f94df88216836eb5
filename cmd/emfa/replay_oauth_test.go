package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// oauthVendorConfig is a vendor reached with OAuth client credentials: its token endpoint
// and its API share the host the environment names, as most vendors have them.
const oauthVendorConfig = `server:
  listen: "127.0.0.1:8080"
  auth:
    basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}
storage:
  driver: sqlite
  dsn: "file:emfa-data/emfa.db"
  encryptionKey: "${EMFA_ENCRYPTION_KEY}"
providers:
  - name: Acme
    credentialPrefix: acme
    capabilities: [smsotp]
    engine: remote
    remote:
      urls: ["${ACME_URL}/v1"]
      timeout: 5s
      authentication:
        type: oauth
        oauth:
          token_endpoint: "${ACME_URL}/oauth/token"
          client_id: acme-client
          client_secret: "${ACME_SECRET}"
          scope: mfa
      resources:
        test:
          suffix: /health
          method: GET
          transform:
            incoming: '{"body": {"status": "SUCCESS"}}'
        enrollments:
          suffix: /devices
          method: GET
          transform:
            outgoing: '{"query": {"user": body.username}}'
            incoming: '{"body": body.devices.map(d, {"id": d, "capability": "smsotp", "attributes": {"authExecutionFlow": "init_then_validate"}})}'
        initiate:
          suffix: /send
          transform:
            incoming: '{"body": {"status": "PENDING", "transactionId": body.tx}}'
        validate:
          suffix: /check
          transform:
            incoming: '{"body": {"status": body.ok ? "SUCCESS" : "FAILED"}}'
`

const (
	oauthClientSecret = "acme-client-secret-0123456"
	oauthTokenPrefix  = "live-access-token-"
)

// oauthVendor is a vendor on loopback with a client-credentials token endpoint and an API
// that wants the latest token it issued: the first token is refused once (a vendor that
// revoked it), so emfa's fetch of a fresh token and its retry are in the recording too.
type oauthVendor struct {
	*httptest.Server
	mu     sync.Mutex
	issued int
	tokens []string // every token issued, to look for in the recording
}

func newOAuthVendor(t *testing.T) *oauthVendor { return newOAuthVendorAt(t, "") }

// newOAuthVendorAt is the vendor under a base path of its own (prefix): its API at
// prefix/v1/…, its token endpoint at prefix/oauth/token.
func newOAuthVendorAt(t *testing.T, prefix string) *oauthVendor {
	v := &oauthVendor{}
	var h http.Handler = http.HandlerFunc(v.serve)
	if prefix != "" {
		h = http.StripPrefix(prefix, h)
	}
	v.Server = httptest.NewServer(h)
	t.Cleanup(v.Close)
	return v
}

func (v *oauthVendor) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v.mu.Lock()
	defer v.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/oauth/token" {
		form, _ := url.ParseQuery(string(body))
		id, secret, ok := r.BasicAuth()
		if r.Method != http.MethodPost || form.Get("grant_type") != "client_credentials" || !ok ||
			id != "acme-client" || secret != oauthClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		v.issued++
		tok := fmt.Sprintf("%s%d-abcdefghij", oauthTokenPrefix, v.issued)
		v.tokens = append(v.tokens, tok)
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 3600})
		return
	}
	if len(v.tokens) == 0 || r.Header.Get("Authorization") != "Bearer "+v.tokens[len(v.tokens)-1] || v.issued == 1 {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid_token"}`)
		return
	}
	switch r.URL.Path {
	case "/v1/health":
		io.WriteString(w, `{"ok":true}`)
	case "/v1/devices":
		io.WriteString(w, `{"devices":["d1"]}`)
	case "/v1/send":
		io.WriteString(w, `{"tx":"t-1"}`)
	case "/v1/check":
		var in struct{ Attributes struct{ Passvalue string } }
		json.Unmarshal(body, &in)
		json.NewEncoder(w).Encode(map[string]bool{"ok": in.Attributes.Passvalue == "123456"})
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{}`)
	}
}

// A vendor reached with OAuth client credentials, recorded with serve --record, replays
// offline with `emfa replay` and the vendor gone: replay grants the tokens itself, and
// the recording holds neither the client secret nor a token — whether the replaying
// host still has the recording's variables (pointing at a vendor that is down) or not
// (they replay as redacted-NAME stand-ins).
func TestRecordOAuthVendorThenReplayOffline(t *testing.T) {
	vendor := newOAuthVendor(t)
	recordDir, app := recordEnv(t, map[string]string{"ACME_URL": vendor.URL, "ACME_SECRET": oauthClientSecret})
	cfg := filepath.Join(t.TempDir(), "acme.yaml")
	if err := os.WriteFile(cfg, []byte(oauthVendorConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _, stop := app.serve(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/acme", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 1 {
		t.Fatalf("enrollments: %+v", list)
	}
	_, tx := sim.challenge("initiate", "smsotp", "d1", "alice", "", "")
	if got, _ := sim.challenge("validate", "smsotp", "d1", "alice", tx, "123456"); got != "SUCCESS" {
		t.Errorf("validate: %s", got)
	}
	if status, _ := sim.call("GET", "test", ""); status != 200 {
		t.Errorf("test: %d", status)
	}
	stop()
	vendor.Close() // offline from here on
	vendor.mu.Lock()
	tokens := vendor.tokens
	vendor.mu.Unlock()
	if len(tokens) != 2 {
		t.Fatalf("the live session fetched %d tokens, want 2 (the first refused once)", len(tokens))
	}

	files, _ := filepath.Glob(filepath.Join(recordDir, "*.yaml"))
	if len(files) < 2 {
		t.Fatalf("recorded %d transcripts, want the session and the test call", len(files))
	}
	var all strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		all.Write(data)
	}
	recorded := all.String()
	for _, secret := range append([]string{oauthClientSecret, oauthTokenPrefix, "sim-password-0123", testEncryptionKey}, tokens...) {
		if strings.Contains(recorded, secret) {
			t.Errorf("the recording holds the secret %q:\n%s", secret, recorded)
		}
	}
	// A token fetch is not a vendor call: it is nowhere among the exchanges.
	for _, want := range []string{"path: /v1/devices", "status: 401", "Authorization: <any>"} {
		if !strings.Contains(recorded, want) {
			t.Errorf("the recording lacks %q:\n%s", want, recorded)
		}
	}
	if strings.Contains(recorded, "path: /oauth/token") {
		t.Errorf("the recording lists a token fetch as a vendor exchange:\n%s", recorded)
	}

	t.Run("variables still set", func(t *testing.T) {
		code, out, errOut := emfa(t, append([]string{"replay", "-v"}, files...)...)
		if code != 0 || !strings.HasSuffix(out, fmt.Sprintf("%d passed, 0 failed\n", len(files))) {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("variables unset", func(t *testing.T) {
		os.Unsetenv("ACME_URL") // t.Setenv restores them when the test ends
		os.Unsetenv("ACME_SECRET")
		code, out, errOut := emfa(t, append([]string{"replay", "-v"}, files...)...)
		if code != 0 || !strings.HasSuffix(out, fmt.Sprintf("%d passed, 0 failed\n", len(files))) {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
}

// A vendor whose URL variable holds a base path of its own (ACME_URL=https://host/api,
// urls: ["${ACME_URL}/v1"]) replays where the variable is not set: the recording keeps
// the variable's path, though not its host, so replay's vendor is called at /api/v1/…, the
// recorded paths, not at /v1/….
func TestRecordVendorUnderABasePathReplaysWithoutItsVariable(t *testing.T) {
	vendor := newOAuthVendorAt(t, "/api")
	recordDir, app := recordEnv(t, map[string]string{"ACME_URL": vendor.URL + "/api", "ACME_SECRET": oauthClientSecret})
	cfg := filepath.Join(t.TempDir(), "acme.yaml")
	if err := os.WriteFile(cfg, []byte(oauthVendorConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _, stop := app.serve(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/acme", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 1 {
		t.Fatalf("enrollments: %+v", list)
	}
	_, tx := sim.challenge("initiate", "smsotp", "d1", "alice", "", "")
	if got, _ := sim.challenge("validate", "smsotp", "d1", "alice", tx, "123456"); got != "SUCCESS" {
		t.Errorf("validate: %s", got)
	}
	stop()
	vendor.Close()

	files, _ := filepath.Glob(filepath.Join(recordDir, "*.yaml"))
	if len(files) == 0 {
		t.Fatal("nothing recorded")
	}
	var all strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		all.Write(data)
	}
	recorded := all.String()
	if !strings.Contains(recorded, "path: /api/v1/devices") {
		t.Fatalf("the recording lacks the vendor's path under its base path:\n%s", recorded)
	}
	if host := strings.TrimPrefix(vendor.URL, "http://"); strings.Contains(recorded, host) {
		t.Errorf("the recording holds the vendor's host %s:\n%s", host, recorded)
	}
	os.Unsetenv("ACME_URL") // t.Setenv restores them when the test ends
	os.Unsetenv("ACME_SECRET")
	code, out, errOut := emfa(t, append([]string{"replay", "-v"}, files...)...)
	if code != 0 || !strings.HasSuffix(out, fmt.Sprintf("%d passed, 0 failed\n", len(files))) {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

// Replay's token endpoint grants a client-credentials POST a bearer token with an expiry,
// a new one each time, and refuses anything else with an OAuth error, never a token.
func TestReplayTokenEndpoint(t *testing.T) {
	srv := httptest.NewServer(replayTokens())
	t.Cleanup(srv.Close)
	post := func(form string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: not JSON: %v", form, err)
		}
		return resp.StatusCode, out
	}
	var first string
	for i := range 2 {
		status, out := post("grant_type=client_credentials&client_id=acme&client_secret=redacted-ACME_SECRET")
		tok, _ := out["access_token"].(string)
		if status != 200 || tok == "" || out["token_type"] != "Bearer" || out["expires_in"] != float64(replayTokenLifetime) {
			t.Fatalf("grant %d: %d %v", i, status, out)
		}
		if tok == first {
			t.Errorf("the same token twice: %q", tok)
		}
		first = tok
	}
	for _, form := range []string{"grant_type=password&username=a&password=b", "", "grant_type=client_credentials&%zz"} {
		if status, out := post(form); status != 400 || out["error"] != "unsupported_grant_type" || out["access_token"] != nil {
			t.Errorf("%q: %d %v", form, status, out)
		}
	}
	resp, err := http.Get(srv.URL + "/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// Replay calls its vendor at the recorded base path, also when the URL's scheme and host
// were a redacted variable that replays as a stand-in.
func TestReplayBasePath(t *testing.T) {
	for raw, want := range map[string]string{
		"https://api.acme.example/v1/":  "/v1",
		"https://api.acme.example":      "",
		"redacted-ACME_URL":             "",
		"redacted-ACME_URL/v1":          "/v1",
		"redacted-ACME_URL/api/v2/?k=1": "/api/v2",
		"https://redacted-ACME_HOST/v1": "/v1",
		"<redacted>":                    "",
		"not a url at all/v1":           "",
	} {
		if got := basePath(raw); got != want {
			t.Errorf("basePath(%q) = %q, want %q", raw, got, want)
		}
	}
}

// A transcript of a vendor reached over mTLS (alone, or as OAuth's tls_client_auth)
// replays where the recording's certificate files are not: replay's vendor and token
// endpoint speak plain HTTP on loopback, so the client certificate, its key and the
// vendor's CA are never read.
func TestReplayMTLSVendorWithoutItsFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	for name, auth := range map[string]string{
		"mtls": `{type: mtls, mtls: {cert: ` + missing + `/client.pem, key: ` + missing + `/client-key.pem, ca: "${ACME_CA}"}}`,
		"tls_client_auth": `{type: oauth, oauth: {token_endpoint: "${ACME_URL}/token", client_id: acme, token_endpoint_auth_method: tls_client_auth},
          mtls: {cert: ` + missing + `/client.pem, key: ` + missing + `/client-key.pem}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := writeTranscript(t, name+".yaml", `name: a vendor behind mTLS
config: |
  server:
    auth: {basic: {username: verify, password: replay-password}}
  providers:
    - name: Acme
      credentialPrefix: acme
      capabilities: [smsotp]
      engine: remote
      remote:
        urls: ["${ACME_URL}/v1"]
        authentication: `+auth+`
        resources:
          test: {suffix: /health, method: GET, transform: {incoming: '{"body": {"status": "SUCCESS"}}'}}
env:
  ACME_URL: <redacted>
  ACME_CA: <redacted>
steps:
  - call: {resource: test, method: GET}
    vendor:
      - request: {method: GET, path: /v1/health}
        response: {body: {ok: true}}
    expect: {status: 200, body: {status: SUCCESS}}
`)
			code, out, errOut := emfa(t, "replay", "-v", path)
			if code != 0 || !strings.HasSuffix(out, "1 passed, 0 failed\n") {
				t.Errorf("exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}
