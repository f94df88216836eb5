package transcript

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTranscriptNamesNeverOverwrite: many sessions begin in the same second (a
// busy tenant's logins), each a transcript named by that second; and a restarted emfa
// (or a second replica) may record into a folder that holds an earlier run's. No
// transcript may replace another: each session must be found in a file of its own.
func TestTranscriptNamesNeverOverwrite(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	call := func(user int) Observed {
		return Observed{Time: at, Provider: "emfa", Resource: "enrollments", Method: "POST", Status: 200,
			Request: fmt.Appendf(nil, `{"username":"user%04d"}`, user), Response: []byte(`[]`)}
	}
	const sessions = 1001
	r := NewRecorder(RecorderOptions{Dir: dir, Config: "providers: []\n"})
	for i := range sessions {
		r.Observe(call(i))
	}
	r.Close()
	// A second run into the same folder, its first transcript at the same second.
	r = NewRecorder(RecorderOptions{Dir: dir, Config: "providers: []\n"})
	r.Observe(call(0))
	r.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != sessions+1 {
		t.Errorf("%d sessions recorded into %d transcripts: some replaced others", sessions+1, len(files))
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
}

// TestOpenSessionsBounded: a session is held until nobody has called for 10
// minutes, and Verify calls enrollments for whatever name a user types at its login page:
// a flood of names (or a busy tenant) held a session each, every call's bodies with it,
// for as long. The calls held are bounded: past the bound the sessions called least
// recently are written out.
func TestOpenSessionsBounded(t *testing.T) {
	defer func(n int) { maxHeldCalls = n }(maxHeldCalls)
	maxHeldCalls = 20
	dir := t.TempDir()
	r := &Recorder{o: RecorderOptions{Dir: dir, Config: "providers: []\n", Log: slog.New(slog.DiscardHandler), Idle: time.Hour},
		secrets: newSecretValues(nil), open: map[string]*group{}, byTx: map[string]string{}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const names = 200
	for i := range names {
		r.add(Observed{Time: at.Add(time.Duration(i) * time.Millisecond), Provider: "emfa", Resource: "enrollments", Method: "POST", Status: 200,
			Request: fmt.Appendf(nil, `{"username":"user%03d"}`, i), Response: []byte(`[]`)})
		if held := r.held; held > maxHeldCalls {
			t.Fatalf("after %d names, %d calls held (bound %d)", i+1, held, maxHeldCalls)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files)+r.held != names {
		t.Errorf("%d transcripts written and %d calls held, of %d", len(files), r.held, names)
	}
	// The user called last is still being recorded: a call of theirs joins their session.
	if _, ok := r.open["emfa\x00user199"]; !ok {
		t.Errorf("the session called last was written out")
	}
}

// TestRefusedCallsBounded: a refused call (401, 429, 400…) is a transcript of
// its own, the whole configuration copied into it, and anyone who reaches emfa can make
// one without credentials: a flood of them filled the disk (emfa's SQLite store's too) a
// few KB a call. Transcripts of single calls are bounded in rate; those past it are
// counted in the log.
func TestRefusedCallsBounded(t *testing.T) {
	dir := t.TempDir()
	r := &Recorder{o: RecorderOptions{Dir: dir, Config: "providers: []\n", Log: slog.New(slog.DiscardHandler), Idle: time.Hour},
		secrets: newSecretValues(nil), open: map[string]*group{}, byTx: map[string]string{}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const flood = 3 * singleBurst
	for range flood {
		r.add(Observed{Time: at, Provider: "emfa", Resource: "enrollments", Method: "POST", Auth: "none", Status: 401,
			Request: []byte(`{"username":"alice"}`), Response: []byte(`{"messageId":"unauthorized"}`)})
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) > singleBurst+1 {
		t.Errorf("%d refused calls at once wrote %d transcripts (bound %d)", flood, len(files), singleBurst)
	}
	if len(files) == 0 {
		t.Error("no refused call recorded")
	}
	// A session's calls are not held back by the flood.
	r.add(Observed{Time: at, Provider: "emfa", Resource: "enrollments", Method: "POST", Status: 200,
		Request: []byte(`{"username":"bob"}`), Response: []byte(`[]`)})
	if _, ok := r.open["emfa\x00bob"]; !ok {
		t.Error("a session's call was left out")
	}
}

// TestReloadsKeepSecretsOnce: each reload adds its configuration's secrets to
// those a recording redacts (an old value may still be in a call under way); a reload
// repeating the same ones (a configuration manager's SIGHUP every minute) added them
// again each time, the list — and the work of each reload — growing without bound.
func TestReloadsKeepSecretsOnce(t *testing.T) {
	secrets := []string{"verify-password-0123456", "vendor-key-0123456789"}
	r := NewRecorder(RecorderOptions{Dir: t.TempDir(), Config: "providers: []\n", Secrets: secrets})
	for range 100 {
		r.Reconfigure("providers: []\n", slices.Clone(secrets))
	}
	r.Reconfigure("providers: []\n", []string{"rotated-password-0123456"})
	r.Close()
	if got := len(r.o.Secrets); got != 3 {
		t.Errorf("after 101 reloads, %d secrets kept, want the 3 distinct ones", got)
	}
}

// TestSessionOfAUserInAnyCase: people type their names at Verify's login in any
// case, and emfa takes "Bob" and "bob" for one user (store.FoldName). Their calls made
// two sessions — the failures that locked the factor in one, the refusal they caused in
// the other, which then replayed red — and a session holding both set up the user twice,
// which replay refuses (the user exists).
func TestSessionOfAUserInAnyCase(t *testing.T) {
	r := &Recorder{o: RecorderOptions{Dir: t.TempDir(), Config: "providers: []\n", Log: slog.New(slog.DiscardHandler), Idle: time.Hour},
		secrets: newSecretValues(nil), open: map[string]*group{}, byTx: map[string]string{}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &FactorSpec{Type: "totp", User: "Bob", ID: "f1", Secret: redacted, Created: at.Add(-time.Hour)}
	var calls []Observed
	for i, name := range []string{"Bob", "bob", "BOB"} {
		o := Observed{Time: at.Add(time.Duration(i) * time.Second), Provider: "emfa", Resource: "validate", Method: "POST", Status: 200,
			Request:  []byte(`{"capability":"totp","id":"f1","attributes":{"username":"` + name + `","passvalue":"000000"}}`),
			Response: []byte(`{"status":"FAILED"}`), Setup: []Setup{{User: name}, {Factor: f}}}
		calls = append(calls, o)
		r.add(o)
	}
	if len(r.open) != 1 {
		t.Errorf("one user's calls in %d sessions", len(r.open))
	}
	users := 0
	for _, s := range r.transcript(calls).Setup {
		if s.User != "" {
			users++
		}
	}
	if users != 1 {
		t.Errorf("the user is set up %d times", users)
	}
}

// TestLongPathRecorded: a transcript is named after the provider and resource
// its first call's path named, which can be as long as a URL is: past the file system's
// 255 bytes a name, the transcript was not written.
func TestLongPathRecorded(t *testing.T) {
	dir := t.TempDir()
	r := NewRecorder(RecorderOptions{Dir: dir, Config: "providers: []\n"})
	r.Observe(Observed{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Provider: strings.Repeat("p", 300), Resource: strings.Repeat("r", 300),
		Method: "POST", Status: 404, Request: []byte(`{}`), Response: []byte(`{"messageId":"not_found"}`)})
	r.Close()
	if files, _ := filepath.Glob(filepath.Join(dir, "*.yaml")); len(files) != 1 || r.Failed() != 0 {
		t.Errorf("a call to a long path: %d transcripts, %d not written", len(files), r.Failed())
	}
}
