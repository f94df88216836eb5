package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// acmeConfig is a remote provider whose vendor calls carry each kind of request a
// transcript must pin: a query with a repeated parameter, a nonce that differs on every
// run, and no body (enrollments), an XML body that is neither JSON nor a form
// (initiate), Verify's JSON body with its passvalue (validate), and a bare GET (test).
const acmeConfig = `server:
  listen: "127.0.0.1:8080"
  auth:
    basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}
storage:
  driver: sqlite
  dsn: "file:emfa-data/emfa.db" # EMFA_STORAGE_DSN overrides it
  encryptionKey: "${EMFA_ENCRYPTION_KEY}"
providers:
  - name: Acme
    credentialPrefix: acme
    capabilities: [smsotp]
    engine: remote
    remote:
      urls: ["${ACME_URL}"]
      timeout: 5s
      authentication:
        type: header
        header:
          values:
            - {key: X-Api-Key, value: "${ACME_KEY}", sensitive: true}
      resources:
        test:
          suffix: /ping
          method: GET
          transform:
            incoming: '{"body": {"status": "SUCCESS"}}'
        enrollments:
          suffix: /devices
          method: GET
          transform:
            outgoing: '{"query": {"user": body.username, "kind": ["sms", "voice"], "nonce": uuid()}}'
            incoming: '{"body": body.devices.map(d, {"id": d, "capability": "smsotp", "attributes": {"authExecutionFlow": "init_then_validate"}})}'
        initiate:
          suffix: /send
          transform:
            outgoing: '{"body": "<send user=\"" + body.attributes.username + "\"/>", "header": header.put("content-type", "application/xml")}'
            incoming: '{"body": {"status": "PENDING", "transactionId": body.tx}}'
        validate:
          suffix: /check
          transform:
            incoming: '{"body": {"status": body.ok ? "SUCCESS" : "FAILED"}}'
`

// A session of a remote provider recorded with --record replays green under replay's
// strict request matching: the recording writes every query and body the vendor saw
// (a body it cannot redact field by field as <any>), so nothing the vendor got is
// "extra" on replay, and what differs per run (a nonce) as <any>.
func TestRecordRemoteRequestsThenReplay(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/devices":
			io.WriteString(w, `{"devices":["d1"]}`)
		case "/send":
			io.WriteString(w, `{"tx":"t-1"}`)
		case "/check":
			var in struct{ Attributes struct{ Passvalue string } }
			json.Unmarshal(body, &in)
			json.NewEncoder(w).Encode(map[string]bool{"ok": in.Attributes.Passvalue == "123456"})
		default:
			io.WriteString(w, `{}`)
		}
	}))
	t.Cleanup(vendor.Close)
	recordDir, app := recordEnv(t, map[string]string{"ACME_URL": vendor.URL, "ACME_KEY": "acme-api-key-0123456"})
	cfg := filepath.Join(t.TempDir(), "acme.yaml")
	if err := os.WriteFile(cfg, []byte(acmeConfig), 0o600); err != nil {
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
	mu.Lock()
	t.Logf("the vendor saw:\n%s", strings.Join(seen, "\n"))
	mu.Unlock()
	recorded := replayRecorded(t, recordDir, []string{"sim-password-0123", "acme-api-key-0123456", testEncryptionKey, "123456"})
	for _, want := range []string{"query:", "nonce: <any>", "body: <any>"} {
		if !strings.Contains(recorded, want) {
			t.Errorf("the recording does not have %q:\n%s", want, recorded)
		}
	}
}

// A recording of a configuration that names its store as ${EMFA_STORAGE_DSN} lists that
// variable <redacted>; replayed where the variable is set (the host it was recorded on),
// the replay must still run on its throwaway store, never the real one.
func TestReplayNeverOpensTheRecordedStore(t *testing.T) {
	real := filepath.Join(t.TempDir(), "production.db")
	t.Setenv("EMFA_STORAGE_DSN", "file:"+real)
	t.Setenv("EMFA_STORAGE_DRIVER", "sqlite")
	src := `name: a recording naming its store
config: |
  server:
    auth: {basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}}
  storage: {driver: "${EMFA_STORAGE_DRIVER}", dsn: "${EMFA_STORAGE_DSN}"}
  providers:
    - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
env:
  EMFA_STORAGE_DRIVER: <redacted>
  EMFA_STORAGE_DSN: <redacted>
  EMFA_VERIFY_PASSWORD: <redacted>
setup:
  - user: alice
steps:
  - call: {resource: enrollments, body: {username: alice}}
    expect: {body: []}
`
	path := filepath.Join(t.TempDir(), "recorded.yaml")
	os.WriteFile(path, []byte(src), 0o600)
	code, out, errOut := emfa(t, "replay", path)
	if code != 0 {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(real); err == nil {
		t.Errorf("the replay opened the store the recording names (%s)", real)
	}
}
