package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
)

// adminConfig is a builtin provider exposing TOTP and SMS (codes written to the log).
func adminConfig(t *testing.T, storage, extra string) string {
	return writeTestConfig(t, storage, `delivery:
  logsms: {type: log}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, smsotp]
    engine: builtin
    builtin:
      totp: {window: 0}
      smsotp: {sender: logsms}
      sendLimits: {perUser: [], perDestination: []}
`+extra)
}

// adminClient knows only the OpenAPI document and the README: a bearer token and JSON.
type adminClient struct {
	t     *testing.T
	base  string // http://host:port/admin/v1
	token string
}

func (a adminClient) do(method, path, contentType string, body []byte) (int, map[string]any) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			a.t.Fatalf("%s %s: %d, not a JSON object: %s", method, path, resp.StatusCode, data)
		}
	}
	if resp.StatusCode >= 400 {
		if code, _ := errorOf(out); code == "" {
			a.t.Errorf("%s %s: %d without a JSON error code: %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, out
}

func (a adminClient) json(method, path string, body any, want int) map[string]any {
	a.t.Helper()
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	code, out := a.do(method, path, "", data)
	if code != want {
		a.t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
	}
	return out
}

func errorOf(out map[string]any) (string, string) {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	field, _ := e["field"].(string)
	return code, field
}

func capabilities(list []enrollment) string {
	var cs []string
	for _, e := range list {
		cs = append(cs, e.Capability)
	}
	return strings.Join(cs, ",")
}

func TestAdminEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { adminScenario(t, "") })
	t.Run("postgres", func(t *testing.T) {
		sv := testdb.Connect(t)
		adminScenario(t, fmt.Sprintf("driver: postgres\n  dsn: %q", sv.Migrated(t)))
	})
}

// adminScenario is the "done": an identity team's client, knowing only the OpenAPI
// document and the README, provisions users and factors, activates, resets, switches a
// capability off and on (seen by a second replica, or by a restart on SQLite), and imports.
func adminScenario(t *testing.T, storage string) {
	app := fakeCLI()
	clk := app.clock
	postgres := storage != ""
	cfg := adminConfig(t, storage, "")
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, logs, stop := app.serve(t, "--config", cfg)
	api := adminClient{t: t, base: base + "/admin/v1", token: token}
	verify := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}

	// The document the client works from.
	if code, doc := api.do("GET", "/openapi.json", "", nil); code != 200 || doc["openapi"] == nil {
		t.Fatalf("openapi.json: %d", code)
	}

	// 1,000 users with pre-provisioned SMS factors, through the API's import.
	var jsonl bytes.Buffer
	for i := range 1000 {
		fmt.Fprintf(&jsonl, `{"username":"user%04d","phone":"+1555%07d","groups":["staff"],"factors":["smsotp"]}`+"\n", i, i)
	}
	code, rep := api.do("POST", "/import", "application/x-ndjson", jsonl.Bytes())
	if code != 200 || rep["created"] != float64(1000) || rep["refused"] != float64(0) {
		t.Fatalf("import of 1,000 users: %d created=%v refused=%v", code, rep["created"], rep["refused"])
	}
	page := api.json("GET", "/users?group=staff&limit=1000", nil, 200)
	if n := len(page["users"].([]any)); n != 1000 {
		t.Fatalf("%d staff users listed", n)
	}
	if got := capabilities(verify.enrollments("user0042")); got != "smsotp" {
		t.Errorf("a pre-provisioned SMS factor is not offered: %q", got)
	}

	// One user made and enrolled by hand: the TOTP seed is not offered until activated.
	api.json("POST", "/users", map[string]any{"name": "alice", "email": "alice@example.com", "phone": "+15550000001"}, 201)
	enr := api.json("POST", "/users/alice/factors", map[string]any{"type": "totp", "label": "Phone"}, 201)
	factor := enr["factor"].(map[string]any)
	id := factor["id"].(string)
	secret := enr["enrollment"].(map[string]any)["secret"].(string)
	if factor["state"] != "pending_activation" || !strings.HasPrefix(enr["enrollment"].(map[string]any)["qrCode"].(string), "data:image/png;base64,") {
		t.Errorf("enrolled: %v", enr)
	}
	if got := verify.enrollments("alice"); len(got) != 0 {
		t.Errorf("an unactivated TOTP factor is offered: %v", got)
	}
	seed, _ := builtin.DecodeSecret(secret)
	codeAt := func() string {
		return builtin.HOTP(builtin.SHA1, seed, uint64(builtin.TOTPStep(clk.Now().Unix(), 30)), 6)
	}
	if got := verify.validate("totp", id, "alice", codeAt()); got != "FAILED" {
		t.Errorf("validate before activation: %s", got)
	}
	if code, out := api.do("POST", "/users/alice/factors/"+id+"/activate", "", []byte(`{"passcode":"000000x"}`)); code != 422 {
		t.Errorf("activate with a wrong code: %d %v", code, out)
	}
	act := api.json("POST", "/users/alice/factors/"+id+"/activate", map[string]any{"passcode": codeAt()}, 200)
	if act["state"] != "active" {
		t.Errorf("after activation: %v", act)
	}
	clk.Advance(30 * time.Second)
	if got := capabilities(verify.enrollments("alice")); got != "totp" {
		t.Errorf("activated factor offered: %q", got)
	}
	if got := verify.validate("totp", id, "alice", codeAt()); got != "SUCCESS" {
		t.Errorf("validate after activation: %s", got)
	}
	fs := api.json("GET", "/users/alice/factors", nil, 200)["factors"].([]any)
	if f := fs[0].(map[string]any); f["lastUsed"] == nil {
		t.Errorf("factor listing without lastUsed: %v", f)
	}

	// Reset: every factor goes, the next sign-in starts afresh.
	if out := api.json("POST", "/users/alice/reset", nil, 200); out["factors"] != float64(1) {
		t.Errorf("reset: %v", out)
	}
	if got := verify.enrollments("alice"); len(got) != 0 {
		t.Errorf("after reset: %v", got)
	}

	// The org-wide switch: smsotp off, on this replica at once and on another within the
	// switch cache's few seconds (on SQLite, which one process serves, after a restart).
	api.json("POST", "/switches/emfa/smsotp/disable", map[string]any{"reason": "SMS fraud wave"}, 200)
	if got := capabilities(verify.enrollments("user0042")); got != "" {
		t.Errorf("smsotp offered while switched off: %q", got)
	}
	other := verify
	if postgres {
		base2, _, _ := app.serve(t, "--config", cfg)
		other = &verifySim{t: t, base: base2 + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	} else {
		stop()
		base, logs, stop = app.serve(t, "--config", cfg)
		api.base = base + "/admin/v1"
		verify.base = base + "/v1/providers/emfa"
	}
	body, _ := json.Marshal(map[string]any{"capability": "smsotp", "id": "x", "attributes": map[string]any{"username": "user0042"}})
	if code, data := other.call("POST", "initiate", string(body)); other.status(code, data) != "FAILED" {
		t.Errorf("initiate on the other replica while off: %s", data)
	}
	if got := capabilities(other.enrollments("user0042")); got != "" {
		t.Errorf("the other replica offers smsotp while off: %q", got)
	}
	api.json("POST", "/switches/emfa/smsotp/enable", nil, 200)
	clk.Advance(5 * time.Second) // past the switch cache's TTL
	if got := capabilities(other.enrollments("user0042")); got != "smsotp" {
		t.Errorf("the other replica after switching on: %q", got)
	}
	audit := api.json("GET", "/audit?action=admin.switches.disable", nil, 200)["events"].([]any)
	if len(audit) != 1 || audit[0].(map[string]any)["actor"] != "idm" {
		t.Errorf("audit of the switch: %v", audit)
	}

	// A CSV imported twice: the second run changes nothing.
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "directory.csv")
	csv := "username,email,phone,displayName,groups,factors\n" +
		"carol,carol@example.com,+15550000003,Carol,sales;emea,smsotp\n" +
		"dave,dave@example.com,,Dave,sales,emailotp\n" +
		"user0001,,+15550000001,User One,staff,smsotp\n"
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	first := app.must(t, "import", csvPath, "--config", cfg)
	if !strings.Contains(first, "2 created, 1 updated, 0 unchanged, 0 deleted, 0 refused") {
		t.Errorf("first import:\n%s", first)
	}
	second := app.must(t, "import", csvPath, "--config", cfg)
	if !strings.Contains(second, "0 created, 0 updated, 3 unchanged, 0 deleted, 0 refused") {
		t.Errorf("second import:\n%s", second)
	}
	// A full import of this file would delete 1,000 users: refused, nothing deleted.
	code, out, _ := emfa(t, "import", csvPath, "--full", "--config", cfg)
	if code != 1 || !strings.Contains(out, "more than --max-deletes 10 allows: nobody was deleted") {
		t.Errorf("full import with too many deletions: exit %d\n%s", code, out)
	}
	q := url.Values{"full": {"true"}, "format": {"csv"}}
	code, rep = api.do("POST", "/import?"+q.Encode(), "text/csv", []byte(csv))
	if code != 200 || rep["deleted"] != float64(0) || rep["deletionRefused"] == nil {
		t.Errorf("full import over the API: %d %v", code, rep["deletionRefused"])
	}
	if n := len(api.json("GET", "/users?prefix=user&limit=1000", nil, 200)["users"].([]any)); n != 1000 {
		t.Errorf("after the refused full import: %d users", n)
	}
	// Every refusal is a JSON error with a stable code.
	if code, out := api.do("POST", "/users", "", []byte(`{"name":"carol"}`)); code != 409 {
		t.Errorf("duplicate: %d %v", code, out)
	} else if c, f := errorOf(out); c != "user_exists" || f != "name" {
		t.Errorf("duplicate: %s %s", c, f)
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), secret) {
		t.Error("the server log holds the admin token or a seed")
	}
}
