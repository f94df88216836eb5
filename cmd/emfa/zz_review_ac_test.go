package main

import (
	"os"
	"strings"
	"testing"
)

// TestReviewRedactedSeedIsNotRun: a recorded transcript replayed before its TOTP seed was
// put back (${totp(<redacted>, …)}) cannot run as written; emfa answered nothing wrong.
// A pipeline must see exit 2 and ERROR ("not run"), not exit 1 and FAIL (a regression).
func TestReviewRedactedSeedIsNotRun(t *testing.T) {
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
