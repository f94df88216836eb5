package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/transcript"
)

// TestTranscripts replays every recorded transaction under testdata/transcripts, as
// `emfa replay testdata/transcripts/*.yaml` does — with nothing from outside the
// repository, as in a fresh clone.
func TestTranscripts(t *testing.T) {
	t.Setenv("EMFA_SHARED_DIR", filepath.Join(t.TempDir(), "no-shared-folder"))
	replayAll(t, "../../testdata/transcripts/*.yaml")
}

// TestTranscriptsIBMWebhook replays the DUO transcripts through IBM's published webhook,
// read verbatim from shared/verify; it skips, saying why, where that folder is absent.
func TestTranscriptsIBMWebhook(t *testing.T) {
	verifyfiles.Path(t, "ibm-duo-webhook.json")
	replayAll(t, "../../testdata/transcripts/ibm/*.yaml")
}

func replayAll(t *testing.T, glob string) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			tr, err := transcript.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			logs := &lockedLog{}
			if err := transcript.Run(context.Background(), tr, inProcess(logs, verifyfiles.Dir())); err != nil {
				t.Errorf("%v\n--- emfa log:\n%s", err, logs)
			}
		})
	}
}

// emfa replay testdata/transcripts/*.yaml, as the README shows it, passes in a fresh
// clone: no transcript there reads a file outside the repository.
func TestReplayCommandFreshClone(t *testing.T) {
	t.Setenv("EMFA_SHARED_DIR", filepath.Join(t.TempDir(), "no-shared-folder"))
	files, _ := filepath.Glob("../../testdata/transcripts/*.yaml")
	code, out, errOut := emfa(t, append([]string{"replay"}, files...)...)
	if code != 0 || !strings.HasSuffix(out, fmt.Sprintf("%d passed, 0 failed\n", len(files))) {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
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
	// contract.yaml needs nothing inside emfa; totp.yaml's setup cannot run against it:
	// not run (exit 2), not failed, since emfa answered nothing wrong.
	if code != 2 || !strings.Contains(out, "ok   ../../testdata/transcripts/contract.yaml") ||
		!strings.Contains(out, "ERROR ../../testdata/transcripts/totp.yaml\n     start emfa: setup: needs an in-process emfa") ||
		!strings.HasSuffix(out, "1 passed, 0 failed, 1 not run\n") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}
