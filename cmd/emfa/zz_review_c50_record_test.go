package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A call refused for naming a key twice (400: ambiguous) is recorded as it came — both
// keys, the code redacted — not as the JSON encoding/json makes of it, which keeps the
// last: that body would be accepted on replay, and the recorded 400 replay red.
func TestReviewC50RecordedDuplicateKeyReplays(t *testing.T) {
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
