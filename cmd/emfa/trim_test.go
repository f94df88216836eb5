package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The trim runs once at the start of each quiet spell: never while requests flow, not again
// while the server stays quiet, and not before the first request (start-up trims itself).
func TestQuietTrim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q quietTrim
		var trims atomic.Int32
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go q.run(ctx, time.Second, func() { trims.Add(1) })
		h := q.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		serve := func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil)) }
		at := func(want int32, when string) {
			t.Helper()
			synctest.Wait()
			if got := trims.Load(); got != want {
				t.Fatalf("%s: %d trims, want %d", when, got, want)
			}
		}

		time.Sleep(5500 * time.Millisecond) // ticks fall on whole seconds: stay between them
		at(0, "quiet since start")

		// Requests every 300 ms for 5 s: no tick finds the server quiet.
		for range 17 {
			serve()
			time.Sleep(300 * time.Millisecond)
		}
		at(0, "while requests flow")
		time.Sleep(2 * time.Second)
		at(1, "at the first quiet tick")
		time.Sleep(10 * time.Second)
		at(1, "quiet for long")

		serve()
		time.Sleep(3 * time.Second)
		at(2, "after one more request")
		cancel()
	})
}

func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	gcPercent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }

	t.Setenv("GOGC", "150")
	tuneGC()
	if got := gcPercent(); got != 100 {
		t.Errorf("GOGC set: percent changed to %d", got)
	}
	os.Unsetenv("GOGC") // t.Setenv restores it
	tuneGC()
	if got := gcPercent(); got != serveGCPercent {
		t.Errorf("GOGC unset: percent %d, want %d", got, serveGCPercent)
	}
}
