package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The trim runs once at the start of each quiet spell, the one that starts with serving
// included (what start-up left): never while requests flow, not again while the server
// stays quiet.
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

		time.Sleep(500 * time.Millisecond) // ticks fall on whole seconds: stay between them
		at(0, "before the first tick")
		time.Sleep(5 * time.Second)
		at(1, "quiet since start: what start-up left, once")

		// Requests every 300 ms for 5 s: no tick finds the server quiet.
		for range 17 {
			serve()
			time.Sleep(300 * time.Millisecond)
		}
		at(1, "while requests flow")
		time.Sleep(2 * time.Second)
		at(2, "at the first quiet tick")
		time.Sleep(10 * time.Second)
		at(2, "quiet for long")

		serve()
		time.Sleep(3 * time.Second)
		at(3, "after one more request")
		cancel()
	})
}

func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(37) // neither a bound nor a value the tuner sets
	defer debug.SetGCPercent(prev)
	gcPercent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }

	t.Setenv("GOGC", "150")
	tuneGC()
	runtime.GC() // the tuner, if a serve in this process started it, keeps out too
	if got := gcPercent(); got != 37 {
		t.Errorf("GOGC set: percent changed to %d", got)
	}
	os.Unsetenv("GOGC") // t.Setenv restores it
	tuneGC()
	if got := gcPercent(); got < 100 || got > serveGCPercent {
		t.Errorf("GOGC unset: percent %d, want it between 100 and %d", got, serveGCPercent)
	}
}

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, serveGCPercent},
		{1 * mib, serveGCPercent},
		{5 * mib, serveGCPercent}, // the live heap under the bench harness's load
		{6 * mib, 333},
		{8 * mib, 250},
		{13 * mib, 153}, // 1,000 idle connections
		{20 * mib, 100},
		{1 << 30, 100},
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live/mib, got, c.want)
		}
	}
}

func TestGCTunerTune(t *testing.T) {
	const mib = 1 << 20
	var live uint64
	var set []int
	g := &gcTuner{live: func() uint64 { return live }, set: func(p int) int { set = append(set, p); return 0 }}
	for _, step := range []struct {
		live  uint64
		force bool
		want  []int // calls to set
	}{
		{5 * mib, true, []int{400}},
		{5 * mib, true, []int{400}}, // forced: set again
		{5 * mib, false, nil},       // unchanged
		{6 * mib, false, []int{333}},
		{6*mib + mib/10, false, nil}, // 327: less than 10 away
		{20 * mib, false, []int{100}},
		{19*mib + mib/2, false, nil}, // 102
		{13 * mib, false, []int{153}},
		{5*mib + mib/20, false, []int{396}}, // 5.05 MiB
		{3 * mib, false, []int{400}},        // 4 away, but the bound
		{64 * mib, false, []int{100}},
	} {
		if step.want == nil {
			step.want = []int{}
		}
		live, set = step.live, []int{}
		g.tune(step.force)
		if !slices.Equal(set, step.want) {
			t.Errorf("live %.2f MiB (force %v): set %v, want %v", float64(step.live)/mib, step.force, set, step.want)
		}
	}
}

// The tuner follows the collections: the live heap a collection found sets the target.
func TestGCTunerFollowsCollections(t *testing.T) {
	const mib = 1 << 20
	var live atomic.Uint64
	set := make(chan int, 16)
	g := &gcTuner{live: live.Load, set: func(p int) int { set <- p; return 0 }, percent: serveGCPercent}
	defer g.stopped.Store(true)
	g.arm()
	for _, c := range []struct {
		live uint64
		want int
	}{{32 * mib, 100}, {8 * mib, 250}, {1 * mib, serveGCPercent}} {
		live.Store(c.live)
		runtime.GC() // the collection finds the armed sentinel unreachable and queues it
		select {
		case p := <-set:
			if p != c.want {
				t.Errorf("live %d MiB: set %d, want %d", c.live/mib, p, c.want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("live %d MiB: no tune a minute after a collection", c.live/mib)
		}
	}
}

// deepStack uses about n KiB of stack before it answers, as SQLite's and CEL's calls do.
//
//go:noinline
func deepStack(n int, w io.Writer) {
	var pad [1024]byte
	if n == 0 {
		io.WriteString(w, "ok")
		return
	}
	pad[n%1024] = byte(n)
	deepStack(n-1, w)
	runtime.KeepAlive(pad)
}

// idleStacks opens conns keep-alive connections to h's server, each making one request,
// runs trim, and returns how much more stack memory there is with the idle connections
// than without them.
func idleStacks(t *testing.T, h http.Handler, conns int, trim func()) uint64 {
	t.Helper()
	// What an earlier call's connections held goes first: their goroutines end after
	// their server closed.
	settle := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if n := runtime.NumGoroutine(); n >= settle {
			break
		} else {
			settle = n
		}
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	open := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for range conns {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("answer %q", body)
		}
	}
	trim()
	runtime.ReadMemStats(&after)
	return after.StackInuse - min(after.StackInuse, before.StackInuse)
}

// After the quiet spell's trim, an idle keep-alive connection holds the small stack of
// net/http's reading, not the deep one of the request it served on the same goroutine.
func TestTrimShrinksIdleConnectionStacks(t *testing.T) {
	const conns = 200
	shallow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	deep := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { deepStack(64, w) })
	floor := idleStacks(t, shallow, conns, trimMemory)
	once := idleStacks(t, deep, conns, runtime.GC)
	trimmed := idleStacks(t, deep, conns, trimMemory)
	t.Logf("stack held by %d idle connections: %d KiB after a shallow request, %d KiB after a 64 KiB-deep one and a collection, %d KiB after one and trimMemory",
		conns, floor/1024, once/1024, trimmed/1024)
	// The runtime halves a stack only while under a quarter of it is used, so a stack that
	// grew can settle at twice the size of one that never did: under -race, net/http's
	// read uses more than 4 KiB, and an idle connection keeps 16 KiB, not 8.
	if trimmed > floor*5/2 {
		t.Errorf("after trimMemory, connections that served a deep request hold %d KiB of stack, ones that served a shallow one %d KiB", trimmed/1024, floor/1024)
	}
	if once < 4*trimmed {
		t.Errorf("one collection leaves %d KiB, trimMemory %d KiB: the deep request did not grow the stacks, so this test cannot tell", once/1024, trimmed/1024)
	}
}

// shrinkStacks stops once a collection shrinks nothing, and at its bound.
func TestShrinkStacksStops(t *testing.T) {
	shrinkStacks(maxStackCollections) // whatever earlier tests left
	if n := shrinkStacks(maxStackCollections); n > 2 {
		t.Errorf("nothing to shrink: %d collections", n)
	}
	if n := shrinkStacks(1); n != 1 {
		t.Errorf("bound 1: %d collections", n)
	}
}
