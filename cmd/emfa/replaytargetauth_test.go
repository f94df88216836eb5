package main

import (
	"strings"
	"testing"
)

// replay --target with credentials the running emfa refuses (a password mistyped, the
// wrong --user) is not run (ERROR, exit 2), naming the credentials: before, every call
// was FAIL "want 200, got 401", exit 1, which a pipeline reads as emfa answering wrongly.
// A step that sends wrong credentials on purpose (auth: wrong) still expects its 401.
func TestReplayTargetRefusedCredentialsIsNotRun(t *testing.T) {
	base, _ := startServe(t, writeConfig(t, ""))
	code, out, errOut := emfa(t, "replay", "--target", base, "--user", "verify", "--password", "not-the-password",
		"../../testdata/transcripts/contract.yaml")
	if code != 2 || !strings.Contains(out, "ERROR ../../testdata/transcripts/contract.yaml") || !strings.Contains(out, "credentials") ||
		!strings.HasSuffix(out, "0 passed, 0 failed, 1 not run\n") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}
