package remote

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hang blocks a handler until the client goes away or the test ends.
func hang(t *testing.T) func(r *http.Request) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	const limit = 1024
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Vendor", "v")
		fmt.Fprintf(w, "%s %s", r.Method, b)
	})
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", limit)))
	})
	mux.HandleFunc("/announced", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", limit+1)))
	})
	mux.HandleFunc("/streamed", func(w http.ResponseWriter, r *http.Request) {
		// Flushing first makes the body chunked: no Content-Length to reject up front.
		for range 4 {
			w.Write([]byte(strings.Repeat("x", limit/2)))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\nshort")
		buf.Flush()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := newClient(&Webhook{MaxResponseBytes: limit}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	tests := []struct {
		path     string
		status   int
		body     string
		wantKind string
	}{
		{"/ok", 200, "POST hello", ""},
		{"/unavailable", 503, "down\n", ""},
		{"/redirect", 302, "", ""},
		{"/exact", 200, strings.Repeat("x", limit), ""},
		{"/announced", 0, "", "too_large"},
		{"/streamed", 0, "", "too_large"},
		{"/truncated", 0, "", "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.do(context.Background(), req)
			if got := errorKind(err); got != tt.wantKind {
				t.Fatalf("error kind %q, want %q (err %v)", got, tt.wantKind, err)
			}
			if err != nil {
				return
			}
			if resp.Status != tt.status || (tt.path != "/redirect" && string(resp.Body) != tt.body) {
				t.Errorf("response %d %q, want %d %q", resp.Status, resp.Body, tt.status, tt.body)
			}
			if tt.path == "/ok" && resp.Header.Get("X-Vendor") != "v" {
				t.Errorf("header = %v", resp.Header)
			}
		})
	}
}

func TestDoTimeouts(t *testing.T) {
	t.Parallel()
	wait := hang(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) { wait(r) })
	mux.HandleFunc("/body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("12345"))
		w.(http.Flusher).Flush()
		wait(r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		name        string
		path        string
		timeout     time.Duration // the client's
		ctxDeadline time.Duration // 0: none
		ctxCancel   bool
		within      time.Duration
		wantKind    string
	}{
		{"client timeout", "/headers", 50 * time.Millisecond, 0, false, 50 * time.Millisecond, "timeout"},
		{"ctx deadline first", "/headers", time.Minute, 50 * time.Millisecond, false, 50 * time.Millisecond, "timeout"},
		{"client timeout in body", "/body", 50 * time.Millisecond, 0, false, 50 * time.Millisecond, "timeout"},
		{"ctx deadline in body", "/body", time.Minute, 50 * time.Millisecond, false, 50 * time.Millisecond, "timeout"},
		{"caller cancels", "/headers", time.Minute, 0, true, 50 * time.Millisecond, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := newClient(&Webhook{Timeout: Duration(tt.timeout)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			ctx := context.Background()
			if tt.ctxDeadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxDeadline)
				defer cancel()
			}
			if tt.ctxCancel {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(tt.within, cancel)
			}
			start := time.Now()
			_, err = c.do(ctx, newRequest(t, srv.URL+tt.path))
			elapsed := time.Since(start)
			if got := errorKind(err); got != tt.wantKind {
				t.Errorf("error kind %q, want %q (err %v)", got, tt.wantKind, err)
			}
			// Generous slack for a loaded CI machine; the point is that a minute-long
			// client timeout did not apply.
			if elapsed > tt.within+2*time.Second {
				t.Errorf("returned after %v, want about %v", elapsed, tt.within)
			}
		})
	}
}

func TestDoRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := newClient(&Webhook{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	_, err = c.do(context.Background(), newRequest(t, "http://"+addr+"/auth?api_key=SECRET"))
	if got := errorKind(err); got != "refused" {
		t.Errorf("error kind %q, want refused (err %v)", got, err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the query leaked into the error: %v", err)
	}
	if !strings.Contains(err.Error(), "POST http://"+addr+"/auth") {
		t.Errorf("the error does not name the call: %v", err)
	}
}

// TestDoReusesAndClosesConnections runs two rounds of 64 concurrent calls: the second
// must reuse the first's connections (Go's default keeps 2 idle per host), and Close must
// close every one of them, leaving no goroutine behind.
func TestDoReusesAndClosesConnections(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	const n = 64
	goroutines := runtime.NumGoroutine()

	var opened, closed atomic.Int64
	closedCh := make(chan struct{}, 4*n)
	var mu sync.Mutex
	arrived, gate := 0, make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold every call until all n are in flight, so each needs a connection of its own.
		mu.Lock()
		arrived++
		g := gate
		if arrived == n {
			close(gate)
			arrived, gate = 0, make(chan struct{})
		}
		mu.Unlock()
		select {
		case <-g:
		case <-r.Context().Done():
		}
		w.Write([]byte(`{"stat":"OK"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
			closedCh <- struct{}{}
		}
	}
	srv.Start()

	c, err := newClient(&Webhook{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	round := func() {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				resp, err := c.do(ctx, newRequest(t, srv.URL))
				if err != nil || string(resp.Body) != `{"stat":"OK"}` {
					t.Errorf("do: %v", err)
				}
			})
		}
		wg.Wait()
	}
	round()
	if got := opened.Load(); got != n {
		t.Fatalf("first round opened %d connections, want %d", got, n)
	}
	round()
	if got := opened.Load(); got != n {
		t.Errorf("second round opened %d more connections, want none", got-n)
	}

	c.Close()
	deadline := time.After(10 * time.Second)
	for closed.Load() < opened.Load() {
		select {
		case <-closedCh:
		case <-deadline:
			t.Fatalf("%d of %d connections still open after Close", opened.Load()-closed.Load(), opened.Load())
		}
	}
	srv.Close()

	// Connection goroutines end asynchronously after their sockets close.
	for end := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > goroutines; {
		if time.Now().After(end) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", goroutines, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkDo makes 64 concurrent calls to a loopback vendor, with the provider's
// transport and with Go's default of 2 idle connections per host for comparison.
func BenchmarkDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"stat":"OK","response":{"result":"allow","status":"allow"}}`))
	}))
	defer srv.Close()
	for _, bc := range []struct {
		name string
		idle int
	}{{"pooled", 0}, {"idle2", 2}} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := newClient(&Webhook{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if bc.idle > 0 {
				c.transport.MaxIdleConnsPerHost = bc.idle
			}
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((64 + procs - 1) / procs)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, err := http.NewRequest(http.MethodGet, srv.URL+"/auth/v2/auth_status", nil)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := c.do(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
