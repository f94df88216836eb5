package transcript

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
)

// TestRefusesNegativeAdvanceAndNestedQuery: a clock cannot go back (advance: -1m
// was accepted, and moved a fake clock backwards), and a call's query value is a string
// or a list of them (a nested map was sent as Go's "map[b:c]"): both are refused when
// the transcript is read, at their line.
func TestRefusesNegativeAdvanceAndNestedQuery(t *testing.T) {
	for _, c := range []struct{ name, steps, want string }{
		{"negative advance", "  - advance: -1m\n", "advance"},
		{"nested query", "  - call: {resource: result, method: GET, query: {a: {b: c}}}\n", "query"},
		{"nested query in a list", "  - call: {resource: result, method: GET, query: {a: [x, {b: c}]}}\n", "query"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := "name: x\nconfig: \"{}\"\nsteps:\n" + c.steps
			_, err := Parse([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse = %v, want an error naming %s", err, c.want)
			}
			if strings.Contains(err.Error(), "map[") {
				t.Errorf("the error shows Go's map text: %v", err)
			}
		})
	}
	// A list of strings and scalars stays fine.
	if _, err := Parse([]byte("name: x\nconfig: \"{}\"\nsteps:\n  - call: {resource: result, method: GET, query: {a: [x, 1], b: y}}\n  - advance: 30s\n")); err != nil {
		t.Fatalf("a plain query and a positive advance are refused: %v", err)
	}
}

// blockingHandler holds the recorder's loop in its log line "transcript written" until
// release is closed.
type blockingHandler struct {
	slog.Handler
	release chan struct{}
}

func (h blockingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h blockingHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "recording: transcript") { // written, or not
		<-h.release
	}
	return nil
}

// TestReconfigureRacingCloseDoesNotPanic: Reconfigure checks closed, lets the lock
// go, then sends on the queue (blocking while it is full); a Close in between closed the
// queue under it, and the send panicked — a reload at shutdown crashed emfa serve
// --record. The loop is held in a write (a slow disk) so the queue stays full.
func TestReconfigureRacingCloseDoesNotPanic(t *testing.T) {
	release := make(chan struct{})
	r := NewRecorder(RecorderOptions{Dir: t.TempDir(), Log: slog.New(blockingHandler{slog.DiscardHandler, release})})
	call := Observed{Time: time.Now(), Provider: "emfa", Resource: "test", Status: 401}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		// A deadline, not a count of yields: a loaded machine may not run the loop
		// within any fixed number of them.
		for deadline := time.Now().Add(testwait.Limit); !ok(); {
			if time.Now().After(deadline) {
				t.Fatalf("waited %v for %s: never", testwait.Limit, what)
			}
			runtime.Gosched()
		}
	}
	r.Observe(call) // taken, and its write holds the loop
	waitFor("the loop taking the first call", func() bool { return len(r.queue) == 0 })
	for range cap(r.queue) {
		r.Observe(call)
	}
	waitFor("the queue full", func() bool { return len(r.queue) == cap(r.queue) })
	reconfigured := make(chan any, 1)
	go func() {
		defer func() { reconfigured <- recover() }()
		r.Reconfigure("{}", nil)
	}()
	stacks := func() string {
		buf := make([]byte, 1<<20)
		return string(buf[:runtime.Stack(buf, true)])
	}
	waitFor("Reconfigure waiting on the full queue", func() bool {
		for _, g := range strings.Split(stacks(), "\n\n") {
			if strings.Contains(g, "[chan send") && strings.Contains(g, ".Reconfigure(") {
				return true
			}
		}
		return false
	})
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	var got any
	waitFor("Close waiting, or Reconfigure ended", func() bool {
		select {
		case got = <-reconfigured:
			return true
		default:
		}
		for _, g := range strings.Split(stacks(), "\n\n") {
			if strings.Contains(g, ".(*Recorder).Close(") && !strings.Contains(g, "[runnable") && !strings.Contains(g, "[running") {
				return true
			}
		}
		return false
	})
	close(release)
	testwait.Recv(t, "Close to end", closed)
	if got == nil {
		got = testwait.Recv(t, "Reconfigure to end", reconfigured)
	}
	if got != nil {
		t.Fatalf("Reconfigure racing Close panicked: %v", got)
	}
}
