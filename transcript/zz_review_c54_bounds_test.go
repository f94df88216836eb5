package transcript

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReviewC54QueueFullLoggedBounded: with the recorder behind (a slow disk) every
// call Verify or anyone else sends past the full queue logged a warning of its own: a
// flood of calls was a flood of log lines. The calls left out are counted, and the
// count logged at most once a minute.
func TestReviewC54QueueFullLoggedBounded(t *testing.T) {
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

// TestReviewC54DroppedSinglesAllCounted: single calls past the rate were counted and the
// count logged at the first, then only when another came a minute after the last
// warning: a flood that stopped within the minute — the usual one — left its count out
// of the log. What is left out is logged as the recorder closes (and a minute on).
func TestReviewC54DroppedSinglesAllCounted(t *testing.T) {
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
