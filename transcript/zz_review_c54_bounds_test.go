package transcript

import (
	"bytes"
	"log/slog"
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
}
