package adapter

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// Detached serves each request on a worker goroutine of its own while the connection's
// goroutine waits for it.
//
// A goroutine's stack grows to the deepest call it makes and keeps that size until a
// garbage collection finds it mostly unused; a server at rest collects rarely. net/http
// runs a keep-alive connection's requests on the goroutine that then waits, idle, for the
// next one, so every connection Verify keeps open would hold the stack of the deepest
// request it ever served: SQLite's and CEL's calls grow it to 32 KiB and more, which is
// 30 MiB and more at 1,000 connections (issue 16). Served by a worker, a request leaves
// the connection only net/http's shallow stack.
//
// Workers outlive their request: one that finishes waits for the next request, up to
// maxIdle of them, so a request usually starts on a stack already grown to what requests
// need instead of growing a fresh goroutine's stack by copying it, twice or three times
// (4 % of a mediated call's CPU). Release ends the idle ones, for a server at rest.
//
// A panic in the handler is raised again on the connection's goroutine, where net/http
// handles it as its own (it aborts the connection; http.ErrAbortHandler silently).
type Detached struct {
	h       http.Handler
	mu      sync.Mutex
	idle    []*worker // the most recently idle last: its stack is the warmest
	limit   int
	workers atomic.Int64 // alive, busy or idle
}

type worker struct{ in chan *job } // holds one job, so handing it over never waits

type job struct {
	w    http.ResponseWriter
	r    *http.Request
	done chan any // the handler's panic, or nil
}

// maxIdle bounds the workers kept waiting: about the requests a busy server has in flight.
const maxIdle = 128

// Detach returns h served by workers.
func Detach(h http.Handler) *Detached { return &Detached{h: h, limit: maxIdle} }

func (d *Detached) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j := &job{w: w, r: r, done: make(chan any, 1)}
	d.mu.Lock()
	if n := len(d.idle); n > 0 {
		wk := d.idle[n-1]
		d.idle = d.idle[:n-1]
		d.mu.Unlock()
		wk.in <- j
	} else {
		d.mu.Unlock()
		go d.work(j)
	}
	if p := <-j.done; p != nil {
		panic(p)
	}
}

// work serves j, then the jobs handed to it while idle; a nil job ends it.
func (d *Detached) work(j *job) {
	d.workers.Add(1)
	defer d.workers.Add(-1)
	wk := &worker{in: make(chan *job, 1)}
	for j != nil && d.serve(j, wk) {
		j = <-wk.in
	}
}

// serve runs j's handler and answers j. A worker whose handler returned joins the idle
// before it answers, so that the request its caller makes next finds it; one whose
// handler panicked or called runtime.Goexit ends. It reports whether wk waits for more.
func (d *Detached) serve(j *job, wk *worker) (idle bool) {
	returned := false
	defer func() {
		p := recover()
		if returned {
			d.mu.Lock()
			if idle = len(d.idle) < d.limit; idle {
				d.idle = append(d.idle, wk)
			}
			d.mu.Unlock()
		}
		j.done <- p
	}()
	d.h.ServeHTTP(j.w, j.r)
	returned = true
	return
}

// Release ends the workers idle now, so that their stacks go back to the runtime.
func (d *Detached) Release() {
	d.mu.Lock()
	idle := d.idle
	d.idle = nil
	d.mu.Unlock()
	for _, wk := range idle {
		wk.in <- nil
	}
}
