package transcript

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
)

// TestQueueFullLoggedBounded: with the recorder behind (a slow disk) every
// call Verify or anyone else sends past the full queue logged a warning of its own: a
// flood of calls was a flood of log lines. The calls left out are counted, and the
// count logged at most once a minute.
func TestQueueFullLoggedBounded(t *testing.T) {
	var logs bytes.Buffer
	r := &Recorder{o: RecorderOptions{Log: slog.New(slog.NewTextHandler(&logs, nil))}, queue: make(chan Observed)} // never read: always full
	for range 1000 {
		r.Observe(Observed{Time: time.Now(), Provider: "emfa", Resource: "enrollments", Status: 401})
	}
	if n := strings.Count(logs.String(), "queue full"); n != 1 {
		t.Errorf("1000 calls past a full queue logged %d warnings, want 1:\n%.2000s", n, logs.String())
	}
	// Those left out since are counted in the next warning, a minute on.
	r.queueDroppedLogged = r.queueDroppedLogged.Add(-time.Minute)
	r.Observe(Observed{Time: time.Now(), Provider: "emfa", Resource: "enrollments", Status: 401})
	if !strings.Contains(logs.String(), "left_out=1000") {
		t.Errorf("the calls left out are not counted:\n%.2000s", logs.String())
	}
	// And those left out last, as the recorder closes.
	for range 7 {
		r.Observe(Observed{Time: time.Now(), Provider: "emfa", Resource: "enrollments", Status: 401})
	}
	r.logDropped(true)
	if !strings.Contains(logs.String(), "left_out=7") {
		t.Errorf("the calls left out last are not counted:\n%.2000s", logs.String())
	}
}

// TestDroppedSinglesAllCounted: single calls past the rate were counted and the
// count logged at the first, then only when another came a minute after the last
// warning: a flood that stopped within the minute — the usual one — left its count out
// of the log. What is left out is logged as the recorder closes (and a minute on).
func TestDroppedSinglesAllCounted(t *testing.T) {
	var logs bytes.Buffer
	r := NewRecorder(RecorderOptions{Dir: t.TempDir(), Config: "providers: []\n", Log: slog.New(slog.NewTextHandler(&logs, nil)), Idle: time.Hour})
	const flood = singleBurst + 50
	for range flood {
		r.Observe(Observed{Time: time.Now(), Provider: "emfa", Resource: "enrollments", Auth: "none", Status: 401,
			Request: []byte(`{"username":"alice"}`), Response: []byte(`{"messageId":"unauthorized"}`)})
	}
	r.Close()
	left := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if i := strings.Index(line, "left_out="); i >= 0 && strings.Contains(line, "too many refused calls") {
			var n int
			fmt.Sscan(line[i+len("left_out="):], &n)
			left += n
		}
	}
	written, _ := filepath.Glob(filepath.Join(r.o.Dir, "*.yaml"))
	if len(written)+left != flood {
		t.Errorf("%d single calls: %d written, %d counted as left out in the log", flood, len(written), left)
	}
}

// TestOpenSessionsBoundedInBytes: the calls held in open sessions were bounded
// in number alone (20,000), each with its bodies and its vendor exchanges': a vendor
// answering large bodies (up to 1 MiB each, maxResponseBytes) or calls near the body
// limit held gigabytes under the bound. The bytes held are bounded too; past the bound
// the sessions called least recently are written.
func TestOpenSessionsBoundedInBytes(t *testing.T) {
	const limit = 4 << 20
	defer func(n int) { maxHeldBytes = n }(maxHeldBytes)
	maxHeldBytes = limit
	dir := t.TempDir()
	r := &Recorder{o: RecorderOptions{Dir: dir, Config: "providers: []\n", Log: slog.New(slog.DiscardHandler), Idle: time.Hour},
		secrets: newSecretValues(nil), open: map[string]*group{}, byTx: map[string]string{}}
	answer := []byte(`{"d":"` + strings.Repeat("x", 256<<10) + `"}`) // one array: the test holds 256 KiB
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const names = 64
	for i := range names {
		r.add(Observed{Time: at.Add(time.Duration(i) * time.Millisecond), Provider: "acme", Resource: "enrollments", Method: "POST", Status: 200,
			Request: fmt.Appendf(nil, `{"username":"user%03d"}`, i), Response: []byte(`[]`),
			Exchanges: []provider.Exchange{{Method: "POST", URL: mustURL(t, "https://acme.example/devices"), Status: 200, ResponseBody: answer}}})
		held := 0
		for _, g := range r.open {
			for _, c := range g.calls {
				held += len(c.Request) + len(c.Response)
				for _, x := range c.Exchanges {
					held += len(x.RequestBody) + len(x.ResponseBody)
				}
			}
		}
		if held > limit {
			t.Fatalf("after %d sessions, %d bytes held (bound %d)", i+1, held, limit)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files)+len(r.open) != names {
		t.Errorf("%d transcripts written and %d sessions open, of %d", len(files), len(r.open), names)
	}
}

// TestLongSessionReadable: a session is written in parts of at most 500 calls,
// but each call may hold a vendor's answer of up to 1 MiB: a session of large answers
// was written as one transcript past the 64 MiB replay reads, refused whole. A session
// is written in parts replay reads.
func TestLongSessionReadable(t *testing.T) {
	defer func(n int64) { maxFileBytes = n }(maxFileBytes)
	maxFileBytes = 1 << 20
	dir := t.TempDir()
	r := NewRecorder(RecorderOptions{Dir: dir, Config: "providers: []\n", Idle: time.Hour})
	answer := []byte(`{"d":"` + strings.Repeat("x", 64<<10) + `"}`)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const calls = 40 // 2.5 MiB of answers
	for i := range calls {
		r.Observe(Observed{Time: at.Add(time.Duration(i) * time.Second), Provider: "acme", Resource: "enrollments", Method: "POST", Status: 200,
			Request: []byte(`{"username":"alice"}`), Response: []byte(`[]`),
			Exchanges: []provider.Exchange{{Method: "POST", URL: mustURL(t, "https://acme.example/devices"), Status: 200, ResponseBody: answer}}})
	}
	r.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	steps := 0
	for _, f := range files {
		tr, err := Load(f)
		if err != nil {
			t.Errorf("a recorded transcript replay cannot read: %v", err)
			continue
		}
		for _, s := range tr.Steps {
			if s.Call != nil {
				steps++
			}
		}
	}
	if steps != calls && !t.Failed() {
		t.Errorf("%d calls recorded in %d steps", calls, steps)
	}
}
