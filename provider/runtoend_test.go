package provider

import (
	"context"
	"testing"
	"time"
)

type ctxKey struct{}

// TestRunToEnd: RunToEnd's context outlives its caller's cancelation, keeps its
// values and its deadline, and ends at that deadline; without a deadline it is only
// detached (one allocation, no Done channel), where a WithCancel cost a context, and
// its map of children once a timer was set under it.
func TestRunToEnd(t *testing.T) {
	base := context.WithValue(context.Background(), ctxKey{}, "v")
	t.Run("deadline", func(t *testing.T) {
		parent, cancel := context.WithTimeout(base, time.Hour)
		ctx, stop := RunToEnd(parent)
		defer stop()
		cancel()
		if ctx.Err() != nil || ctx.Value(ctxKey{}) != "v" {
			t.Fatalf("after its caller ended: err %v, value %v", ctx.Err(), ctx.Value(ctxKey{}))
		}
		want, _ := parent.Deadline()
		if got, ok := ctx.Deadline(); !ok || !got.Equal(want) {
			t.Errorf("deadline %v %v, want %v", got, ok, want)
		}
		past, cancelPast := context.WithDeadline(base, time.Now().Add(-time.Second))
		defer cancelPast()
		ended, stop2 := RunToEnd(past)
		defer stop2()
		if ended.Err() != context.DeadlineExceeded {
			t.Errorf("a deadline passed: err %v", ended.Err())
		}
	})
	t.Run("no deadline", func(t *testing.T) {
		parent, cancel := context.WithCancel(base)
		ctx, stop := RunToEnd(parent)
		defer stop()
		cancel()
		if ctx.Err() != nil || ctx.Value(ctxKey{}) != "v" {
			t.Fatalf("after its caller ended: err %v, value %v", ctx.Err(), ctx.Value(ctxKey{}))
		}
		if _, ok := ctx.Deadline(); ok {
			t.Error("a deadline from nowhere")
		}
		if raceEnabled {
			t.Skip("allocation counts differ under -race")
		}
		if n := testing.AllocsPerRun(100, func() { _, stop := RunToEnd(base); stop() }); n > 1 {
			t.Errorf("RunToEnd without a deadline allocates %v times, want 1", n)
		}
		if ctx.Done() != nil {
			t.Error("a Done channel that nothing closes")
		}
	})
}
