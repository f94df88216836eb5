package adapter

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// TestDrainWaitsForASignInUnderWay: Drain (serve's end, before the senders
// close) waited on a WaitGroup that a send joined only at its Run, and a sign-in between
// the place it took and its Run (its challenge being started) counted for nothing: Drain
// answered "all sent" at once, and that sign-in's send then ran on senders being closed.
// A Run racing the Wait at zero is also the WaitGroup's misuse, which the race detector
// reports and the runtime may panic on. Drain now waits for every place taken, and the
// sends on it.
func TestDrainWaitsForASignInUnderWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newPageSends(&Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		place, ok := q.take(context.Background()) // a sign-in starting its challenge
		if !ok {
			t.Fatal("no place")
		}
		var drained, sent atomic.Bool
		errc := make(chan error, 1)
		go func() {
			err := q.Drain(context.Background())
			drained.Store(true)
			errc <- err
		}()
		synctest.Wait()
		if drained.Load() {
			t.Fatal("Drain answered while a sign-in that took a place had not yet handed over its send")
		}
		place.Run(func(context.Context) {
			if drained.Load() {
				t.Error("the send ran after Drain answered")
			}
			sent.Store(true)
		})
		place.done() // the sign-in answered
		synctest.Wait()
		if !drained.Load() || !sent.Load() {
			t.Fatalf("after the send: drained %v, sent %v", drained.Load(), sent.Load())
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		// And at once with nothing under way, as often as asked.
		for range 2 {
			if err := q.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	})
}
