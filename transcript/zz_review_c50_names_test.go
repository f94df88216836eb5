package transcript

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReviewC50TranscriptNamesNeverOverwrite: a refused call is a transcript of its own,
// so a burst of them (a tenant with a mistyped password, a load test) writes many
// transcripts whose first call fell in the same second; and a restarted emfa (or a
// second replica) may record into a folder that holds an earlier run's. No transcript
// may replace another: each call refused here must be found in a file of its own.
func TestReviewC50TranscriptNamesNeverOverwrite(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	refused := Observed{Time: at, Provider: "emfa", Resource: "validate", Method: "POST", Auth: "wrong", Status: 401,
		Request: []byte(`{}`), Response: []byte(`{"message":"unauthorized"}`)}
	const burst = 1001
	r := NewRecorder(RecorderOptions{Dir: dir, Config: "providers: []\n"})
	for range burst {
		r.Observe(refused)
	}
	r.Close()
	// A second run into the same folder, its first transcript at the same second.
	r = NewRecorder(RecorderOptions{Dir: dir, Config: "providers: []\n"})
	r.Observe(refused)
	r.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != burst+1 {
		t.Errorf("%d refused calls recorded into %d transcripts: some replaced others", burst+1, len(files))
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
}
