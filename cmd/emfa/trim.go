package main

import (
	"context"
	"net/http"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// serveGCPercent is the collector's target when the environment sets no GOGC: a collection
// once the heap has grown by four times what survived the last one, not once it doubled.
// A server's live heap is small (a few megabytes) and its garbage is per request, so at
// Go's default of 100 the collector runs hundreds of times a second under load; at 400 a
// TOTP validation at 64 clients costs about a tenth less CPU (4,480 → 5,010–5,310/s in
// BenchmarkHTTPValidateParallel, issue 16). The price is a larger heap while under load,
// returned when the load stops (quietTrim); GOMEMLIMIT bounds it where memory is tight
// (the Kubernetes deployment sets it below the container's limit).
const serveGCPercent = 400

// tuneGC sets serveGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

// quietTrim gives memory back to the operating system once the server has been quiet: no
// request began or ended for a whole tick after one did.
//
// Under load the heap grows to what the load needs, and the garbage collector, which runs
// as a function of allocation, stops running when the requests stop: a server at rest
// then keeps its busiest moment's garbage, and the stacks its connections grew, resident
// for minutes (the runtime forces a collection every two minutes and returns free pages
// slowly). One collection and scavenge at the start of each quiet spell returns them at
// once: the resident size of a server holding Verify's idle keep-alive connections is
// then what they need (issue 16's 1,000-connection budget). Its cost is one collection
// per quiet spell, a few milliseconds of one CPU for a heap of tens of megabytes, never
// made while requests flow.
type quietTrim struct {
	events atomic.Uint64 // requests begun and ended
}

func (q *quietTrim) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.events.Add(1)
		defer q.events.Add(1)
		h.ServeHTTP(w, r)
	})
}

// run trims with free at the first tick of every quiet spell, until ctx ends.
func (q *quietTrim) run(ctx context.Context, tick time.Duration, free func()) {
	t := time.NewTicker(tick)
	defer t.Stop()
	seen, trimmed := q.events.Load(), true // start-up trims on its own (serve)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch n := q.events.Load(); {
		case n != seen:
			seen, trimmed = n, false
		case !trimmed:
			free()
			trimmed = true
		}
	}
}
