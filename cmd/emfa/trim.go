package main

import (
	"context"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

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

// run trims with free (debug.FreeOSMemory when nil) at the first tick of every quiet
// spell, until ctx ends.
func (q *quietTrim) run(ctx context.Context, tick time.Duration, free func()) {
	if free == nil {
		free = debug.FreeOSMemory
	}
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
