package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestRedactedSeedIsNotRun: a recorded transcript replayed before its TOTP seed was
// put back (${totp(<redacted>, …)}) cannot run as written; emfa answered nothing wrong.
// A pipeline must see exit 2 and ERROR ("not run"), not exit 1 and FAIL (a regression).
func TestRedactedSeedIsNotRun(t *testing.T) {
	data, err := os.ReadFile("../../testdata/transcripts/totp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "${totp(GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ)}", "${totp(<redacted>, 6, 30, SHA1)}")
	path := writeTranscript(t, "recorded.yaml", text)
	code, out, errOut := emfa(t, "replay", path)
	if code != 2 || !strings.Contains(out, "ERROR "+path) || !strings.Contains(out, "the seed was redacted when recording") {
		t.Errorf("exit %d, want 2 with ERROR and the seed's message\n%s%s", code, out, errOut)
	}
}

// TestRecordedPendingFactorReplays: a user with a factor still pending its
// activation (not offered to Verify) and an active one: the enrollments call lists only
// the active one, and its recording must replay so — not with the pending factor
// created active and listed too. Nor may a disabled factor an initiate names replay
// active (PENDING where the call was refused).
func TestRecordedPendingFactorReplays(t *testing.T) {
	const cfg = "../../testdata/config/all-factors.yaml"
	recordDir, app := recordEnv(t, nil)
	app.must(t, "users", "add", "alice", "--config", cfg)
	app.must(t, "factors", "add", "totp", "--user", "alice", "--secret", recordSeed, "--activation", "passcode", "--config", cfg)
	app.must(t, "factors", "add", "totp", "--user", "alice", "--secret", recordSeed, "--config", cfg)
	var sms struct{ ID string }
	json.Unmarshal([]byte(app.must(t, "factors", "add", "smsotp", "--user", "alice", "--phone", "+15551230123", "--config", cfg)), &sms)
	app.must(t, "factors", "disable", sms.ID, "--config", cfg)
	base, _, stop := app.serve(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	if got := sim.enrollments("alice"); len(got) != 1 {
		t.Fatalf("enrollments lists %d factors, want the active one", len(got))
	}
	// A disabled factor named by an initiate: refused, and so on replay.
	sim.want("disabled sms", sim.step("initiate", "smsotp", sms.ID, "alice", "", ""), "FAILED")
	stop()
	replayRecorded(t, recordDir, nil)
}
