package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A reload that renames a builtin provider's credentialPrefix: the calls served after it
// are looked up in the configuration they were served under, so their transcript sets up
// the user and factor they named and replays green. Before, the recording looked
// providers up in the configuration serve started with, found none of the new prefix,
// and wrote the calls without their setup: an enrollments listing one factor replayed
// as none.
func TestReviewC54RecordAfterReloadHasSetup(t *testing.T) {
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
