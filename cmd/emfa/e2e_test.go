package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/secretscan"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
)

const testEncryptionKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// writeConfig writes a configuration for a test instance on a free loopback port: one
// builtin provider with TOTP. storage "" is a fresh SQLite file.
func writeConfig(t *testing.T, storage string) string {
	return writeTestConfig(t, storage, `providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
    builtin:
      totp: {window: 1}
      lockout: {maxFailures: 3, duration: 15m}
`)
}

// writeTestConfig writes the server, storage and log sections every test instance shares
// (loopback port, the simulator's credentials, a debug JSON log), then body (delivery and
// providers), and returns the file's path.
func writeTestConfig(t testing.TB, storage, body string) string {
	t.Helper()
	dir := t.TempDir()
	if storage == "" {
		storage = fmt.Sprintf("driver: sqlite\n  dsn: \"file:%s\"", filepath.Join(dir, "emfa.db"))
	}
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:0"
  requestTimeout: 5s
  auth:
    basic: {username: verify, password: "sim-password-0123"}
storage:
  %s
  encryptionKey: %q
log: {level: debug, format: json}
`, storage, testEncryptionKey) + body
	path := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// verifySim plays IBM Verify: it knows only the contract (verify-contract.md), sends what
// Verify sends and checks every answer has the contract's shape before the test looks at
// its content.
type verifySim struct {
	t        *testing.T
	base     string // e.g. http://127.0.0.1:1234/v1/providers/emfa
	user, pw string
}

var contractStatuses = []string{"SUCCESS", "PENDING", "FAILED", "CANCELED", "TIMEOUT"}
var contractFlows = []string{"validate", "init_then_validate", "init_then_poll"}

func (v *verifySim) call(method, resource, body string) (int, []byte) {
	v.t.Helper()
	req, err := http.NewRequest(method, v.base+"/"+resource, strings.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if v.user != "" {
		req.SetBasicAuth(v.user, v.pw)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, resource, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		v.t.Errorf("%s %s: content type %q, body %s: the contract never answers HTML or text", method, resource, ct, data)
	}
	if resp.StatusCode != 200 {
		var e struct{ MessageID, MessageDescription string }
		if json.Unmarshal(data, &e) != nil || e.MessageID == "" {
			v.t.Errorf("%s %s: error %d without a JSON error body: %s", method, resource, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, data
}

type enrollment struct {
	Capability string         `json:"capability"`
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes"`
}

func (v *verifySim) enrollments(username string) []enrollment {
	v.t.Helper()
	code, data := v.call("POST", "enrollments", fmt.Sprintf(`{"username":%q}`, username))
	if code != 200 {
		v.t.Fatalf("enrollments %s: %d %s", username, code, data)
	}
	var list []enrollment
	if err := json.Unmarshal(data, &list); err != nil || list == nil {
		v.t.Fatalf("enrollments %s: want a JSON array, got %s", username, data)
	}
	for _, e := range list {
		flow, _ := e.Attributes["authExecutionFlow"].(string)
		if e.ID == "" || e.Capability == "" || !slices.Contains(contractFlows, flow) {
			v.t.Errorf("enrollment %+v breaks the contract", e)
		}
	}
	return list
}

func (v *verifySim) validate(capability, id, username, passvalue string) string {
	v.t.Helper()
	body, _ := json.Marshal(map[string]any{"capability": capability, "id": id,
		"attributes": map[string]any{"username": username, "passvalue": passvalue}})
	code, data := v.call("POST", "validate", string(body))
	return v.status(code, data)
}

func (v *verifySim) status(code int, data []byte) string {
	v.t.Helper()
	var out struct {
		Status string `json:"status"`
	}
	if code != 200 || json.Unmarshal(data, &out) != nil || !slices.Contains(contractStatuses, out.Status) {
		v.t.Fatalf("answer %d %s is not a contract outcome", code, data)
	}
	return out.Status
}

func TestVerifySimulatorEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { simulate(t, "") })
	t.Run("postgres", func(t *testing.T) {
		sv := testdb.Connect(t)
		simulate(t, fmt.Sprintf("driver: postgres\n  dsn: %q", sv.Migrated(t)))
	})
}

// simulate provisions a user through the CLI, serves, and lets the simulator drive every
// case of verify-contract.md that the TOTP factor can show.
func simulate(t *testing.T, storage string) {
	cfg := writeConfig(t, storage)
	// Provision through the operator's CLI, on the same store.
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	mustEmfa(t, "users", "add", "--config", cfg, "bob")
	secret := builtin.EncodeSecret([]byte("0123456789abcdefghij"))
	var factor struct {
		ID, OTPAuthURI string
	}
	if err := json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--config", cfg, "--user", "alice", "--secret", secret, "--name", "Alice's phone")), &factor); err != nil || factor.ID == "" || !strings.HasPrefix(factor.OTPAuthURI, "otpauth://totp/") {
		t.Fatalf("factors add: %+v %v", factor, err)
	}
	var bobFactor struct{ ID string }
	json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--config", cfg, "--user", "bob")), &bobFactor)

	base, logs := startServe(t, cfg)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	code := func(offset int64) string {
		// The same code `emfa totp code` prints.
		at := time.Now().Unix() + offset*30
		return strings.TrimSpace(mustEmfa(t, "totp", "code", "--secret", secret, "--time", fmt.Sprint(at)))
	}

	t.Run("enrollments", func(t *testing.T) {
		sim.t = t
		list := sim.enrollments("alice")
		if len(list) != 1 || list[0].ID != factor.ID || list[0].Capability != "totp" ||
			list[0].Attributes["authExecutionFlow"] != "validate" || list[0].Attributes["deviceName"] != "Alice's phone" {
			t.Errorf("alice: %+v", list)
		}
		if list := sim.enrollments("nobody@example.com"); len(list) != 0 {
			t.Errorf("unknown user: %+v", list)
		}
		if c, data := sim.call("POST", "enrollments", `{}`); c != 400 {
			t.Errorf("missing username: %d %s", c, data)
		}
		if c, data := sim.call("POST", "enrollments", `{"username": "alice"`); c != 400 {
			t.Errorf("bad JSON: %d %s", c, data)
		}
	})

	t.Run("validate", func(t *testing.T) {
		sim.t = t
		// None of the codes the server may accept while this runs: a fixed "000000" is the
		// live one once in a million steps (the clock is real).
		wrong := notAmong(code(-1), code(0), code(1), code(2))
		if got := sim.validate("totp", factor.ID, "alice", wrong); got != "FAILED" {
			t.Errorf("wrong code: %s", got)
		}
		current := code(0)
		if got := sim.validate("emfa:totp", factor.ID, "alice", current); got != "SUCCESS" {
			t.Errorf("right code (prefixed capability): %s", got)
		}
		if got := sim.validate("totp", factor.ID, "alice", current); got != "FAILED" {
			t.Errorf("replayed code: %s", got)
		}
		if got := sim.validate("totp", factor.ID, "bob", code(1)); got != "FAILED" {
			t.Errorf("another user's factor: %s", got)
		}
		if got := sim.validate("totp", bobFactor.ID, "alice", code(1)); got != "FAILED" {
			t.Errorf("alice naming bob's factor: %s", got)
		}
		if got := sim.validate("push", factor.ID, "alice", code(1)); got != "FAILED" {
			t.Errorf("capability not exposed: %s", got)
		}
		// Three failures lock the factor; then even the right code fails.
		for range 3 {
			sim.validate("totp", factor.ID, "alice", wrong)
		}
		if got := sim.validate("totp", factor.ID, "alice", code(1)); got != "FAILED" {
			t.Errorf("locked out: %s", got)
		}
		if out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg); !strings.Contains(out, "Z") {
			t.Errorf("factors list shows no lock:\n%s", out)
		}
		mustEmfa(t, "factors", "unlock", factor.ID, "--config", cfg)
		if got := sim.validate("totp", factor.ID, "alice", code(1)); got != "SUCCESS" {
			t.Errorf("after unlock: %s", got)
		}
	})

	t.Run("result and initiate on a validate-only factor", func(t *testing.T) {
		sim.t = t
		c, data := sim.call("POST", "initiate", fmt.Sprintf(`{"capability":"totp","id":%q,"attributes":{"username":"alice"}}`, factor.ID))
		if got := sim.status(c, data); got != "FAILED" || strings.Contains(string(data), "transactionId") {
			t.Errorf("initiate: %s", data)
		}
		c, data = sim.call("POST", "result", fmt.Sprintf(`{"capability":"totp","id":%q,"transactionId":"x","attributes":{"username":"alice"}}`, factor.ID))
		if got := sim.status(c, data); got != "FAILED" {
			t.Errorf("result: %s", data)
		}
	})

	t.Run("test resource", func(t *testing.T) {
		sim.t = t
		for _, m := range []string{"GET", "POST"} {
			if c, data := sim.call(m, "test", ""); sim.status(c, data) != "SUCCESS" {
				t.Errorf("%s test: %s", m, data)
			}
		}
	})

	t.Run("auth failures", func(t *testing.T) {
		for _, creds := range [][2]string{{"", ""}, {"verify", "wrong"}, {"root", "sim-password-0123"}} {
			bad := &verifySim{t: t, base: sim.base, user: creds[0], pw: creds[1]}
			if c, _ := bad.call("POST", "enrollments", `{"username":"alice"}`); c != 401 {
				t.Errorf("credentials %q: %d, want 401", creds, c)
			}
		}
	})

	t.Run("audit trail", func(t *testing.T) {
		out := mustEmfa(t, "audit", "--user", "alice", "--config", cfg)
		for _, want := range []string{"wrong code", "replayed code", "factor belongs to another user", "SUCCESS"} {
			if !strings.Contains(out, want) {
				t.Errorf("audit lacks %q:\n%s", want, out)
			}
		}
		lines := strings.Split(strings.TrimSpace(mustEmfa(t, "audit", "--json", "--limit", "2", "--config", cfg)), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], `"outcome":`) || strings.Contains(lines[0], `"Outcome"`) {
			t.Errorf("audit --json --limit 2:\n%s", strings.Join(lines, "\n"))
		}
	})

	t.Run("health", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(base + p)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("%s: %v %v", p, resp, err)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
		// Probes come every few seconds: their access-log lines are DEBUG, not INFO. (The
		// line is written just after the answer: wait for it.)
		var probes []string
		for deadline := time.Now().Add(5 * time.Second); len(probes) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			probes = probes[:0]
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, `"path":"/healthz"`) || strings.Contains(line, `"path":"/readyz"`) {
					probes = append(probes, line)
				}
			}
		}
		if len(probes) < 2 {
			t.Errorf("no access-log line for the probes:\n%s", logs)
		}
		for _, line := range probes {
			if !strings.Contains(line, `"level":"DEBUG"`) {
				t.Errorf("probe logged above DEBUG: %s", line)
			}
		}
	})

	// holdsSecret: the code as a word, not inside a request id or a timestamp's nanoseconds.
	for _, secretText := range []string{"sim-password-0123", secret, current(t, code), testEncryptionKey} {
		if secretscan.Holds(logs.String(), secretText) {
			t.Errorf("log contains a secret or code %q", secretText)
		}
	}
}

// current is a helper so the log check above also looks for a live code.
func current(t *testing.T, code func(int64) string) string { return code(0) }
