package main

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// serveGCPercent is the collector's target, at most, when the environment sets no GOGC: a
// collection once the heap has grown by four times what survived the last one, not once
// it doubled. A server's live heap is small (a few megabytes) and its garbage is per
// request, so at Go's default of 100 the collector runs hundreds of times a second under
// load; at 400 a TOTP validation at 64 clients costs about a tenth less CPU (4,480 →
// 5,010–5,310/s in BenchmarkHTTPValidateParallel, issue 16). The price is a larger heap
// while under load, returned when the load stops (quietTrim); GOMEMLIMIT bounds it where
// memory is tight (the Kubernetes deployment sets it below the container's limit).
const serveGCPercent = 400

// gcHeadroom is what the heap may grow by between collections, as long as that is between
// Go's default (GOGC 100) and serveGCPercent of the live heap: 400 % of the 5 MiB live
// under the bench harness's load at 64 clients, so that the load runs as it did at a fixed
// 400.
//
// What the collector's CPU follows is how much is allocated between collections, and what
// each collection marks; serveGCPercent's saving was measured on a small live heap. A
// fixed 400 % lets a larger one grow to five times itself: 13 MiB live with 1,000 of
// Verify's keep-alive connections, 65 MiB before a collection; a heap of hundreds of
// megabytes, gigabytes. At 20 MiB of headroom a live heap of 20 MiB or more runs at Go's
// default. It also leaves fewer half-empty spans: the connections' own objects sit between
// the garbage of their first requests, which Go does not compact, and collections that
// come sooner let later objects fill the holes. The bench harness's 1,000 connections after
// its load: 69.0 and 68.2 MiB resident, against 69.8 and 69.8 at a fixed 400
// (BENCHMARKS.md, "The collector's headroom").
const gcHeadroom = 20 << 20

// gcPercentFor is the collector's target for a live heap of live bytes: gcHeadroom as a
// share of it, between 100 and serveGCPercent.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return serveGCPercent
	}
	return int(min(max(100*gcHeadroom/live, 100), serveGCPercent))
}

// tuneGC sets the collector's target from the live heap now and after every collection
// (gcPercentFor), unless GOGC is set: then the operator's value stands.
func tuneGC() {
	if gogcSet() {
		return
	}
	gcTunerOnce.Do(func() {
		processGCTuner = &gcTuner{set: debug.SetGCPercent, live: liveHeap}
		processGCTuner.arm()
	})
	processGCTuner.tune(true)
}

var (
	gcTunerOnce    sync.Once
	processGCTuner *gcTuner
)

func gogcSet() bool {
	_, set := os.LookupEnv("GOGC")
	return set
}

// liveHeap is the heap that the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// gcTuner sets the collector's target after each collection. It learns of one through a
// finalizer, the runtime's only notice of a collection: an object with a finalizer that
// runs once a collection finds the object unreachable, and that arms the next.
type gcTuner struct {
	set  func(int) int // debug.SetGCPercent
	live func() uint64 // liveHeap

	stopped atomic.Bool // for tests: arm no more
	mu      sync.Mutex
	percent int // last set; 0 before the first
}

type gcSentinel struct{ _ *byte } // a pointer: not an object the tiny allocator batches

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) {
		if t.stopped.Load() {
			return
		}
		t.tune(false)
		t.arm()
	})
}

// tune sets the target for the live heap. Unless forced, it leaves the target that was set
// last when the new one is less than a tenth of Go's default away from it and not at a
// bound: a live heap that wavers need not make each collection a call. It does nothing
// once GOGC is set (in a test; an operator sets it before the process starts).
func (t *gcTuner) tune(force bool) {
	if gogcSet() {
		return
	}
	p := gcPercentFor(t.live())
	t.mu.Lock()
	defer t.mu.Unlock()
	d := p - t.percent
	if force || d >= 10 || d <= -10 || (d != 0 && (p == 100 || p == serveGCPercent)) {
		t.set(p)
		t.percent = p
	}
}

// quietTrim gives memory back to the operating system once the server has been quiet: no
// request began or ended for a whole tick after one did.
//
// Under load the heap grows to what the load needs, and the garbage collector, which runs
// as a function of allocation, stops running when the requests stop: a server at rest
// then keeps its busiest moment's garbage, and the stacks its connections grew, resident
// for minutes (the runtime forces a collection every two minutes and returns free pages
// slowly). Collecting and scavenging at the start of each quiet spell (trimMemory)
// returns them at once: the resident size of a server holding Verify's idle keep-alive
// connections is then what they need (issue 16's 1,000-connection budget). Its cost is a
// few collections per quiet spell, a few milliseconds of one CPU for a heap of tens of
// megabytes, never made while requests flow.
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

// touch counts something other than a request that leaves memory to free: a connection
// parked (parkIdle) has given up its goroutine and buffers.
func (q *quietTrim) touch() { q.events.Add(1) }

// run trims with free at the first tick of every quiet spell, until ctx ends. The first is
// the one that starts with serving: what start-up left (the CEL compiled for every
// transform, twice, and the migrations) goes back at its first quiet tick, not at once,
// where a collection of the whole heap stopped the world beside the first requests and
// delayed the first answer by ~4 ms.
func (q *quietTrim) run(ctx context.Context, tick time.Duration, free func()) {
	t := time.NewTicker(tick)
	defer t.Stop()
	seen, trimmed := q.events.Load(), false
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

// trimMemory returns what a burst of requests left: garbage, the stacks that idle
// connections grew, and the free pages.
//
// net/http serves a keep-alive connection's requests on the goroutine that then waits for
// the next one, and that goroutine keeps the stack its deepest request grew (SQLite's and
// CEL's calls take it to 32 KiB and more: 30 MiB and more at 1,000 connections). The
// runtime halves an idle goroutine's stack at each collection that finds it mostly unused,
// so collections repeated until the stacks stop shrinking bring each idle connection back
// to net/http's own 8 KiB. (Serving every request on a pool of worker goroutines instead
// kept the connections' stacks shallow without collections, but handing each request over
// and back made two goroutine wake-ups a call, each able to interrupt the other CPU: a
// mediated enrollments call cost the machine ~10 % more CPU than it does now.
// BENCHMARKS.md, "Requests on their connection's goroutine again".)
//
// The first collections also move what sync.Pools hold (echo's contexts, encoders, the
// load's bufio buffers) to their victim caches and then free it; with one collection those
// objects stayed, spread over spans the scavenger could not return (12–13 MB of heap in use
// for 5 MB of objects after the bench harness's load, 9.6 MB with two).
func trimMemory() {
	runtime.GC()
	shrinkStacks(maxStackCollections)
	debug.FreeOSMemory()
}

// maxStackCollections bounds shrinkStacks: 2^8 times the 8 KiB floor is 2 MiB, more than
// any request's stack.
const maxStackCollections = 8

// shrinkStacks collects until the goroutine stacks stop shrinking, at most max times, and
// returns how many collections it made.
func shrinkStacks(max int) int {
	s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	last := s[0].Value.Uint64()
	for n := 1; n <= max; n++ {
		runtime.GC()
		metrics.Read(s)
		now := s[0].Value.Uint64()
		if now >= last {
			return n
		}
		last = now
	}
	return max
}
