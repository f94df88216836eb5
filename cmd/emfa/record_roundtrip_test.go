package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transcript"
)

// A call refused for naming a key twice (400: ambiguous) is recorded as it came — both
// keys, the code redacted — not as the JSON encoding/json makes of it, which keeps the
// last: that body would be accepted on replay, and the recorded 400 replay red.
func TestRecordedDuplicateKeyReplays(t *testing.T) {
	recordDir := filepath.Join(t.TempDir(), "recorded")
	base, _, stop := startServeArgs(t, "--config", writeConfig(t, ""), "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	for _, body := range []string{
		`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"806795","passvalue":"806796"}}`,
		`{"capability":"totp","id":"f1","id":"f2","attributes":{"username":"alice","passvalue":"806795"}}`,
	} {
		if status, data := sim.call("POST", "validate", body); status != 400 {
			t.Fatalf("a body naming a key twice: %d %s", status, data)
		}
	}
	stop()
	all := replayRecorded(t, recordDir, []string{"806795", "806796", "sim-password-0123", testEncryptionKey})
	if n := strings.Count(all, "f2"); n == 0 {
		t.Errorf("the duplicate id is not in the recording:\n%s", all)
	}
}

// An incoming transform may read the vendor's response headers (cel-dialect.md: header):
// a recording keeps them, so that the answer it made replays — the vendor's session
// cookie redacted.
func TestRecordedVendorResponseHeadersReplay(t *testing.T) {
	const cookie = "vendor-session-cookie-0123"
	vendor, stopVendor, err := transcript.ServeLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Device-Name", "Pixel 8")
		w.Header().Set("Set-Cookie", "sid="+cookie)
		io.WriteString(w, `{"devices": ["D1"]}`)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopVendor)
	cfg := writeTestConfig(t, "", fmt.Sprintf(`providers:
  - name: ACME
    credentialPrefix: acme
    capabilities: [push]
    engine: remote
    remote:
      urls: [%q]
      resources:
        enrollments:
          suffix: /enroll
          transform:
            incoming: >-
              {"body": body.devices.map(d, {"id": d, "capability": "push",
                "attributes": {"deviceName": header["X-Device-Name"][0], "authExecutionFlow": "init_then_poll"}})}
`, vendor))
	recordDir := filepath.Join(t.TempDir(), "recorded")
	base, _, stop := startServeArgs(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/acme", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 1 || list[0].Attributes["deviceName"] != "Pixel 8" {
		t.Fatalf("enrollments live: %+v", list)
	}
	stop()
	replayRecorded(t, recordDir, []string{cookie, "sim-password-0123", testEncryptionKey})
}

// stalledUsers is a store whose user lookups hang as a partitioned database does: until
// the caller's deadline, and for a caller without one, they report it and fail at once
// (rather than hang the test).
type stalledUsers struct {
	store.Store
	t *testing.T
}

func (s stalledUsers) GetUser(ctx context.Context, name string) (store.User, error) {
	if _, ok := ctx.Deadline(); !ok {
		s.t.Error("a recording's lookup has no deadline: with the store stalled, it holds the answer for good")
		return store.User{}, errors.New("stalled")
	}
	<-ctx.Done()
	return store.User{}, ctx.Err()
}

// A recording looks up what a call needs to replay before its answer is released: with
// the store stalled (a partition), that lookup held an answer emfa had made within its
// deadline for as long as the store stayed away. It is bounded; the call is recorded
// without its setup.
func TestRecordLookupBounded(t *testing.T) {
	defer func(d time.Duration) { recordLookupTimeout = d }(recordLookupTimeout)
	recordLookupTimeout = 10 * time.Millisecond
	cfg := &config.Config{Providers: []config.Provider{{Name: "Built-in factors", CredentialPrefix: "emfa", Engine: config.EngineBuiltin}}}
	e := &env{cfg: cfg, store: stalledUsers{testdb.SQLite(t), t}, log: slog.New(slog.DiscardHandler), now: time.Now}
	r := transcript.NewRecorder(transcript.RecorderOptions{Dir: t.TempDir()})
	defer r.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		callRecorder{r: r, e: e}.Record(adapter.RecordedCall{Provider: "emfa", Resource: "validate", Method: "POST", Status: 200,
			Request:  []byte(`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"806795"}}`),
			Response: []byte(`{"status":"FAILED"}`)})
	}()
	testwait.Recv(t, "the recorded call's release", done)
}

// A user who types their name in another case at each login ("Bob", then "bob") is one
// user to emfa: the wrong codes that locked the factor and the refusal of the right code
// they caused are one session, which replays green (before, the refusal was a transcript
// of its own, answered SUCCESS on replay).
func TestRecordedNameInAnyCaseReplays(t *testing.T) {
	recordDir, app := recordEnv(t, nil)
	clk := app.clock
	cfg := writeConfig(t, "")
	app.must(t, "users", "add", "bob", "--config", cfg)
	var f struct{ ID string }
	json.Unmarshal([]byte(app.must(t, "factors", "add", "totp", "--user", "bob", "--secret", recordSeed, "--config", cfg)), &f)
	base, _, stop := app.serve(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	for i, name := range []string{"Bob", "BOB", "Bob"} {
		sim.want(fmt.Sprintf("wrong %d", i+1), sim.step("validate", "totp", f.ID, name, "", wrongTOTP(t, recordSeed, clk.Now())), "FAILED")
	}
	code := strings.TrimSpace(app.must(t, "totp", "code", "--secret", recordSeed, "--time", strconv.FormatInt(clk.Now().Unix(), 10)))
	sim.want("locked", sim.step("validate", "totp", f.ID, "bob", "", code), "FAILED")
	stop()
	replayRecorded(t, recordDir, []string{"sim-password-0123", testEncryptionKey, recordSeed})
	if files, _ := filepath.Glob(filepath.Join(recordDir, "*.yaml")); len(files) != 1 {
		t.Errorf("one user's calls in %d transcripts", len(files))
	}
}

// A remote section's values fill a webhookFile's placeholders, and the recorded
// configuration copies that webhook inline, placeholders filled: a value there — a
// signing key under a name that does not say so (skey) — is redacted in the copy as the
// values map itself is, wherever the webhook put it (a transform's text).
func TestInlinedWebhookValuesRedacted(t *testing.T) {
	recordSigningKeyPlaceholder(t, "LITERAL-SKEY-0123456789", `"LITERAL-SKEY-0123456789"`)
}

// recordSigningKeyPlaceholder records one call to a remote provider whose webhookFile
// signs with a placeholder, skey, written in the configuration's values as skeyYAML, and
// checks that the transcript holds the webhook inline but not the key's value.
func recordSigningKeyPlaceholder(t *testing.T, skey, skeyYAML string) {
	t.Helper()
	cfg := writeTestConfig(t, "", `providers:
  - name: ACME
    credentialPrefix: acme
    capabilities: [push]
    engine: remote
    remote:
      webhookFile: acme-webhook.json
      values: {acme_url: "https://acme.example", skey: `+skeyYAML+`}
`)
	webhook := `{"urls": ["{{acme_url}}"], "resources": {"enrollments": {"suffix": "/enroll",
  "transform": {"outgoing": "{\"header\": header.put(\"x-sig\", hmacSha1(body.username, \"{{skey}}\"))}",
                "incoming": "{\"body\": []}"}}}}`
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "acme-webhook.json"), []byte(webhook), 0o600); err != nil {
		t.Fatal(err)
	}
	recordDir := filepath.Join(t.TempDir(), "recorded")
	base, _, stop := startServeArgs(t, "--config", cfg, "--record", recordDir)
	(&verifySim{t: t, base: base + "/v1/providers/acme", user: "verify", pw: "wrong"}).call("POST", "enrollments", `{"username":"alice"}`)
	stop()
	files, _ := filepath.Glob(filepath.Join(recordDir, "*.yaml"))
	if len(files) != 1 {
		t.Fatalf("transcripts: %q", files)
	}
	data, _ := os.ReadFile(files[0])
	if strings.Contains(string(data), skey) {
		t.Errorf("the recorded configuration holds the webhook's signing key:\n%s", data)
	}
	if !strings.Contains(string(data), "hmacSha1") {
		t.Errorf("the webhook is not inlined:\n%s", data)
	}
}
