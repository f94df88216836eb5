package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/transcript"
)

// TestTranscripts replays every recorded transaction under testdata/transcripts, as
// `emfa replay testdata/transcripts/*.yaml` does.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("../../testdata/transcripts/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			tr, err := transcript.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if text, _ := tr.ConfigText(); strings.Contains(text, "EMFA_SHARED_DIR") {
				verifyfiles.Path(t, "ibm-duo-webhook.json") // skip, or fail in CI, without IBM's files
			}
			logs := &lockedLog{}
			if err := transcript.Run(context.Background(), tr, inProcess(logs, verifyfiles.Dir())); err != nil {
				t.Errorf("%v\n--- emfa log:\n%s", err, logs)
			}
		})
	}
}

// A transcript edited to expect a wrong status fails with a diff naming the step and
// field, and emfa replay exits 1 with a summary.
func TestReplayReportsMismatch(t *testing.T) {
	data, err := os.ReadFile("../../testdata/transcripts/totp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "    expect: {body: {status: FAILED}}\n  - name: bob naming", "    expect: {body: {status: SUCCESS}}\n  - name: bob naming", 1)
	if broken == string(data) {
		t.Fatal("could not edit the transcript")
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(path, []byte(broken), 0o600)
	code, out, errOut := emfa(t, "replay", "../../testdata/transcripts/contract.yaml", path)
	if code != 1 || !strings.Contains(out, `step 4 (the same code again is a replay): body.status: want "SUCCESS", got "FAILED"`) ||
		!strings.HasSuffix(out, "1 passed, 1 failed\n") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

// emfa replay --target replays the Verify side against a running emfa.
func TestReplayTarget(t *testing.T) {
	base, _ := startServe(t, writeConfig(t, ""))
	code, out, errOut := emfa(t, "replay", "--target", base, "--user", "verify", "--password", "sim-password-0123",
		"../../testdata/transcripts/contract.yaml", "../../testdata/transcripts/totp.yaml")
	// contract.yaml needs nothing inside emfa; totp.yaml's setup cannot run against it.
	if code != 1 || !strings.Contains(out, "ok   ../../testdata/transcripts/contract.yaml") ||
		!strings.Contains(out, "in-process emfa") || !strings.HasSuffix(out, "1 passed, 1 failed\n") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}
