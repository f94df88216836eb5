package adapter

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// deep uses about n KiB of stack before it answers, as SQLite's and CEL's calls do.
//
//go:noinline
func deep(n int, w io.Writer) {
	var pad [1024]byte
	if n == 0 {
		fmt.Fprint(w, "ok")
		return
	}
	pad[n%1024] = byte(n)
	deep(n-1, w)
	runtime.KeepAlive(pad)
}

// idleStacks opens conns keep-alive connections to h's server, each making one request,
// and returns how much stack memory the idle connections hold after a collection.
func idleStacks(t *testing.T, h http.Handler, conns int) uint64 {
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
	runtime.GC()
	runtime.ReadMemStats(&after)
	return after.StackInuse - min(after.StackInuse, before.StackInuse)
}

// An idle keep-alive connection keeps the small stack of net/http's reading, not the
// deep one of the request it served.
func TestDetachIdleConnectionStacks(t *testing.T) {
	const conns = 200
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { deep(64, w) })
	inline := idleStacks(t, handler, conns)
	detached := idleStacks(t, Detach(handler), conns)
	t.Logf("stack held by %d idle connections: %d KiB served inline, %d KiB detached", conns, inline/1024, detached/1024)
	if detached*2 > inline {
		t.Errorf("detached connections hold %d KiB of stack, inline ones %d KiB: want under half", detached/1024, inline/1024)
	}
}

// A panic in the handler is net/http's again: the connection is aborted, the server lives.
func TestDetachPanic(t *testing.T) {
	for _, p := range []any{"boom", http.ErrAbortHandler} {
		srv := httptest.NewUnstartedServer(Detach(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic(p)
			}
			io.WriteString(w, "fine")
		})))
		logged := &syncBuffer{}
		srv.Config.ErrorLog = log.New(logged, "", 0)
		srv.Start()
		if resp, err := srv.Client().Get(srv.URL + "/panic"); err == nil {
			resp.Body.Close()
			t.Errorf("panic %v: answered %d, want the connection aborted", p, resp.StatusCode)
		}
		resp, err := srv.Client().Get(srv.URL + "/")
		if err != nil {
			t.Fatalf("after panic %v: %v", p, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "fine" {
			t.Errorf("after panic %v: %q", p, body)
		}
		srv.Close()
		if p == http.ErrAbortHandler && logged.String() != "" {
			t.Errorf("ErrAbortHandler logged: %s", logged.String())
		}
		if p == "boom" && !strings.Contains(logged.String(), "boom") {
			t.Errorf("panic not logged by net/http: %q", logged.String())
		}
	}
}

// Workers serve request after request; at most limit of them wait idle, and Release ends
// those that do.
func TestDetachWorkers(t *testing.T) {
	release := make(chan struct{})
	var inFlight sync.WaitGroup
	d := Detach(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wait":
			inFlight.Done()
			<-release
		case "/goexit":
			io.WriteString(w, "ok")
			runtime.Goexit()
		}
		io.WriteString(w, "ok")
	}))
	d.limit = 3
	serve := func(path string) {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Body.String() != "ok" {
			t.Errorf("%s: %q", path, rec.Body.String())
		}
	}
	for range 20 {
		serve("/")
	}
	if n := d.workers.Load(); n != 1 {
		t.Errorf("after 20 requests in turn: %d workers, want 1", n)
	}

	// 8 at once need 8 workers; 3 stay idle after.
	var all sync.WaitGroup
	inFlight.Add(8)
	for range 8 {
		all.Add(1)
		go func() { defer all.Done(); serve("/wait") }()
	}
	inFlight.Wait()
	close(release)
	all.Wait()
	waitFor(t, func() bool { d.mu.Lock(); defer d.mu.Unlock(); return len(d.idle) == 3 && d.workers.Load() == 3 }, "3 idle workers")

	d.Release()
	waitFor(t, func() bool { return d.workers.Load() == 0 }, "no worker after Release")
	serve("/") // and it serves on after

	// A handler that ends its goroutine ends its worker, which is not kept idle.
	serve("/goexit")
	serve("/")
	waitFor(t, func() bool { d.mu.Lock(); defer d.mu.Unlock(); return len(d.idle) == 1 && d.workers.Load() == 1 }, "1 worker after a Goexit")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}
