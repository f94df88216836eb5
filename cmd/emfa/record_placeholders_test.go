package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transcript"
)

// A reload that renames a builtin provider's credentialPrefix: the calls served after it
// are looked up in the configuration they were served under, so their transcript sets up
// the user and factor they named and replays green. Before, the recording looked
// providers up in the configuration serve started with, found none of the new prefix,
// and wrote the calls without their setup: an enrollments listing one factor replayed
// as none.
func TestRecordAfterReloadHasSetup(t *testing.T) {
	recordDir, app := recordEnv(t, nil)
	cfg := writeConfig(t, "")
	app.must(t, "users", "add", "alice", "--config", cfg)
	var f struct{ ID string }
	json.Unmarshal([]byte(app.must(t, "factors", "add", "totp", "--user", "alice", "--secret", recordSeed, "--config", cfg)), &f)
	base, _, reload, stop := app.serveReloading(t, cfg, "--record", recordDir)
	first, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, cfg, strings.Replace(string(first), "credentialPrefix: emfa", "credentialPrefix: mfa", 1))
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	sim := &verifySim{t: t, base: base + "/v1/providers/mfa", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 1 {
		t.Fatalf("enrollments after the reload: %+v", list)
	}
	stop()
	all := replayRecorded(t, recordDir, []string{"sim-password-0123", testEncryptionKey, recordSeed})
	if !strings.Contains(all, "user: alice") {
		t.Errorf("the call after the reload is recorded without its setup:\n%s", all)
	}
	if files, _ := filepath.Glob(filepath.Join(recordDir, "*.yaml")); len(files) != 1 {
		t.Errorf("%d transcripts, want the one session", len(files))
	}
}

// stalledFactors is a store whose factor lookups hang as a partitioned database does,
// until the caller's deadline; its user lookups answer.
type stalledFactors struct{ store.Store }

func (s stalledFactors) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s stalledFactors) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	<-ctx.Done()
	return store.Factor{}, ctx.Err()
}

// A call whose setup could not be looked up within the bound (the store stalled) is
// recorded without it, and replays red: its step says why, and the log says so. Before,
// a factor lookup that failed was passed over in silence, the user set up without the
// factors the call named, and the replay's mismatch said nothing of the cause.
func TestSetupLookupFailureSaid(t *testing.T) {
	defer func(d time.Duration) { recordLookupTimeout = d }(recordLookupTimeout)
	recordLookupTimeout = 10 * time.Millisecond
	st := testdb.SQLite(t)
	if err := st.CreateUser(context.Background(), store.User{ID: "u1", Name: "alice", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	logs := &lockedLog{}
	cfg := &config.Config{Providers: []config.Provider{{Name: "Built-in factors", CredentialPrefix: "emfa", Engine: config.EngineBuiltin}}}
	e := &env{cfg: cfg, store: stalledFactors{st}, log: slog.New(slog.NewTextHandler(logs, nil)), now: time.Now}
	dir := t.TempDir()
	r := transcript.NewRecorder(transcript.RecorderOptions{Dir: dir, Config: "providers: []\n"})
	for _, c := range []adapter.RecordedCall{
		{Provider: "emfa", Resource: "enrollments", Method: "POST", Status: 200, Request: []byte(`{"username":"alice"}`),
			Response: []byte(`[{"capability":"totp","id":"f1","attributes":{"authExecutionFlow":"validate","deviceName":"phone"}}]`)},
		{Provider: "emfa", Resource: "validate", Method: "POST", Status: 200,
			Request:  []byte(`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"806795"}}`),
			Response: []byte(`{"status":"SUCCESS"}`)},
	} {
		callRecorder{r: r, e: e}.Record(c)
	}
	r.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != 1 {
		t.Fatalf("%d transcripts, want 1", len(files))
	}
	data, _ := os.ReadFile(files[0])
	if n := strings.Count(string(data), "recorded without its setup"); n != 2 {
		t.Errorf("%d of the 2 steps recorded without their setup say so:\n%s", n, data)
	}
	if n := strings.Count(logs.String(), "recording: setup lookup"); n != 2 {
		t.Errorf("%d of the 2 failed lookups logged:\n%s", n, logs)
	}
}

// A webhookFile's placeholder value written as a number (an unquoted numeric key, as
// YAML reads it) is a secret as a string one is: only strings were taken, so a numeric
// signing key filled into the inlined webhook stayed in clear in every transcript.
func TestNumericPlaceholderValueRedacted(t *testing.T) {
	recordSigningKeyPlaceholder(t, "918273645546372819", "918273645546372819")
}

// A webhookFile's placeholder values are redacted by value, as secrets, wherever they
// appear; but a value that names a field (the attribute a vendor reads the user from,
// as IBM's uniqueNameAttribute does) is no secret, and it appears in the transforms'
// text and the vendor's bodies: redacted there, the replayed transform sent and read
// another field, and a recording of a working webhook replayed red. A value with no
// digit in it (a field name, a word) is no secret by value unless its name says so; the
// signing key beside it still is.
func TestFieldNamePlaceholderReplays(t *testing.T) {
	recordFieldNamePlaceholder(t, "acme-webhook.json", filepath.Dir)
}

// The same webhook under a path that starts with ${NAME}, which a recording keeps as a
// path: its values map is copied, and a value that names a field was redacted there
// with the secrets, so the replayed webhook read and sent another field.
func TestFieldNamePlaceholderInValuesReplays(t *testing.T) {
	webhookDir := t.TempDir()
	t.Setenv("ACME_WEBHOOKS", webhookDir)
	all := recordFieldNamePlaceholder(t, "${ACME_WEBHOOKS}/acme-webhook.json", func(string) string { return webhookDir })
	if !strings.Contains(all, "webhookFile") {
		t.Errorf("the webhook is inlined, not kept as a path:\n%s", all)
	}
}

// recordFieldNamePlaceholder records alice's enrollments through a remote provider whose
// webhook, at webhookFile (written into dir(the configuration's path)), reads and sends
// the user under a field named by a placeholder value (user_attr: preferred_username) and
// signs with another (skey), replays the recording and returns what replayRecorded read.
func recordFieldNamePlaceholder(t *testing.T, webhookFile string, dir func(cfg string) string) string {
	t.Helper()
	const skey = "Xk29sLq0Vd83nB1mZr7T"
	vendor, stopVendor, err := transcript.ServeLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"preferred_username": in["preferred_username"], "devices": []string{"D1"}})
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopVendor)
	cfg := writeTestConfig(t, "", `providers:
  - name: ACME
    credentialPrefix: acme
    capabilities: [push]
    engine: remote
    remote:
      webhookFile: `+webhookFile+`
      values: {acme_url: "`+vendor+`", user_attr: preferred_username, skey: "`+skey+`"}
`)
	webhook := `{"urls": ["{{acme_url}}"], "resources": {"enrollments": {"suffix": "/enroll",
  "transform": {"outgoing": "{\"header\": header.put(\"x-sig\", hmacSha1(body.username, \"{{skey}}\")), \"body\": {\"{{user_attr}}\": body.username}}",
                "incoming": "{\"body\": body.devices.map(d, {\"id\": d, \"capability\": \"push\", \"attributes\": {\"deviceName\": body.{{user_attr}}, \"authExecutionFlow\": \"init_then_poll\"}})}"}}}}`
	if err := os.WriteFile(filepath.Join(dir(cfg), "acme-webhook.json"), []byte(webhook), 0o600); err != nil {
		t.Fatal(err)
	}
	recordDir := filepath.Join(t.TempDir(), "recorded")
	base, _, stop := startServeArgs(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/acme", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 1 || list[0].Attributes["deviceName"] != "alice" {
		t.Fatalf("enrollments live: %+v", list)
	}
	stop()
	return replayRecorded(t, recordDir, []string{skey, "sim-password-0123", testEncryptionKey})
}

// A device answer the server refused — a second tap answering otherwise a challenge
// answered already, an answer to a challenge no longer pending — is no device step of the session: it
// changed nothing, and replayed as one it failed the replay (the challenge answered
// already), so that a session recorded as it happened replayed red.
func TestRefusedDeviceAnswerReplays(t *testing.T) {
	const cfg = "../../testdata/config/all-factors.yaml"
	recordDir, app := recordEnv(t, nil)
	app.must(t, "users", "add", "heidi", "--config", cfg)
	var f struct{ ID, ActivationCode string }
	json.Unmarshal([]byte(app.must(t, "factors", "add", "push", "--user", "heidi", "--config", cfg)), &f)
	base, _, stop := app.serve(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	state := filepath.Join(t.TempDir(), "heidi.json")
	app.must(t, "device", "register", "--server", base, "--code", f.ActivationCode, "--state", state)
	a := sim.want("push", sim.step("initiate", "push", f.ID, "heidi", "", ""), "PENDING")
	args := []string{"device", "approve", a.TransactionID, "--state", state}
	if n := a.Attributes["number"]; n != nil {
		args = append(args, "--number", fmt.Sprint(n))
	}
	app.must(t, args...)
	// A second tap, another answer: refused, the challenge answered already.
	if code, _, _ := app.run(t, "device", "deny", a.TransactionID, "--state", state); code == 0 {
		t.Fatal("a second answer to the challenge was taken")
	}
	sim.want("approved", sim.step("result", "push", f.ID, "heidi", a.TransactionID, ""), "SUCCESS")
	stop()
	replayRecorded(t, recordDir, []string{"sim-password-0123", testEncryptionKey})
}
