package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/duofake"
	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/transcript"
)

// A session recorded with serve --record, driven by an independent client, replays green
// without editing — except that secrets it redacted must be re-supplied where the
// scenario depends on them (a TOTP seed and the code typed).
func TestRecordThenReplay(t *testing.T) {
	webhook := verifyfiles.Path(t, "ibm-duo-webhook.json")
	duo := newDUO(t)
	duo.SetPushOutcome("alice", duofake.Waiting, duofake.Allow)
	duo.SetPasscode("alice", "314159")
	cfgPath := writeTestConfig(t, "", fmt.Sprintf(`providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
  - name: DUO Security
    credentialPrefix: duo
    capabilities: [smsotp, push, hotp]
    engine: remote
    remote:
      webhookFile: %q
      values: {duo_url: %q, duo_integration_key: %s, duo_signing_key: %s}
`, webhook, duo.URL(), duoIKey, duoSKey))
	const seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	mustEmfa(t, "users", "add", "alice", "--config", cfgPath)
	var f struct{ ID string }
	if err := json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--secret", seed, "--config", cfgPath)), &f); err != nil {
		t.Fatal(err)
	}
	recordDir := filepath.Join(t.TempDir(), "recorded")
	base, _, stop := startServeArgs(t, "--config", cfgPath, "--record", recordDir)
	emfa := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	duoSim := &verifySim{t: t, base: base + "/v1/providers/duo", user: "verify", pw: "sim-password-0123"}

	code := strings.TrimSpace(mustEmfa(t, "totp", "code", "--secret", seed))
	emfa.enrollments("alice")
	if got := emfa.validate("totp", f.ID, "alice", code); got != "SUCCESS" {
		t.Fatalf("validate: %s", got)
	}
	duoSim.enrollments("alice")
	_, tx := duoSim.challenge("initiate", "push", aliceID, "alice", "", "")
	duoSim.challenge("result", "push", aliceID, "alice", tx, "")
	if got, _ := duoSim.challenge("result", "push", aliceID, "alice", tx, ""); got != "SUCCESS" {
		t.Fatalf("push: %s", got)
	}
	duoSim.validate("hotp", aliceID, "alice", "314159")
	bad := &verifySim{t: t, base: emfa.base, user: "verify", pw: "wrong"}
	bad.call("POST", "enrollments", `{"username":"alice"}`)
	stop() // writes every open transaction

	files, _ := filepath.Glob(filepath.Join(recordDir, "*.yaml"))
	if len(files) != 6 {
		t.Fatalf("%d transcripts recorded, want 6 (2 lookups, validate, push transaction, hotp, 401)", len(files))
	}
	for _, path := range files {
		data, _ := os.ReadFile(path)
		for _, secret := range []string{"sim-password-0123", duoSKey, seed, code, "314159", testEncryptionKey} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s contains the secret %q", filepath.Base(path), secret)
			}
		}
		tr, err := transcript.Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		err = transcript.Run(context.Background(), tr, inProcess(&lockedLog{}, verifyfiles.Dir()))
		validatesTOTP := strings.Contains(string(data), "resource: validate") && strings.Contains(string(data), "provider: emfa")
		if !validatesTOTP {
			if err != nil {
				t.Errorf("%s replays red: %v\n%s", filepath.Base(path), err, data)
			}
			continue
		}
		// The TOTP validation needs its seed and code back.
		if err == nil {
			t.Errorf("%s replays green with its secrets redacted", filepath.Base(path))
		}
		fixed := strings.Replace(string(data), "secret: <redacted>", "secret: "+seed, 1)
		fixed = strings.Replace(fixed, "passvalue: <redacted>", `passvalue: "${totp(`+seed+`)}"`, 1)
		if fixed == string(data) {
			t.Fatalf("no redacted secret to re-supply in:\n%s", data)
		}
		tr, err = transcript.Parse([]byte(fixed))
		if err != nil {
			t.Fatal(err)
		}
		if err := transcript.Run(context.Background(), tr, inProcess(&lockedLog{}, verifyfiles.Dir())); err != nil {
			t.Errorf("%s with its secrets re-supplied: %v\n%s", filepath.Base(path), err, fixed)
		}
	}
}

// Recording into a directory that cannot be written is logged, not fatal: emfa serves.
func TestRecordUnwritableDir(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("x"), 0o600)
	base, logs, stop := startServeArgs(t, "--config", writeConfig(t, ""), "--record", filepath.Join(blocker, "sub"))
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 0 {
		t.Errorf("enrollments: %+v", list)
	}
	stop()
	if !strings.Contains(logs.String(), "transcript not written") {
		t.Errorf("the failed write is not logged:\n%s", logs)
	}
}
