package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
)

// stallingProxy forwards loopback connections to target until stall(), after which it
// keeps every connection open and forwards nothing more: a database behind a partition,
// which neither answers nor resets. swallowed is closed once it has held back a byte.
type stallingProxy struct {
	ln        net.Listener
	mu        sync.Mutex
	stalled   bool
	swallowed chan struct{}
	once      sync.Once
}

func startStallingProxy(t *testing.T, target string) *stallingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingProxy{ln: ln, swallowed: make(chan struct{})}
	var conns []net.Conn
	var cmu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		defer cmu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				dst.Close()
				return
			}
			if p.isStalled() {
				p.once.Do(func() { close(p.swallowed) })
				continue
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			cmu.Lock()
			conns = append(conns, c, up)
			cmu.Unlock()
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	return p
}

func (p *stallingProxy) isStalled() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.stalled }
func (p *stallingProxy) stall()          { p.mu.Lock(); p.stalled = true; p.mu.Unlock() }

// A SIGHUP while the database does not answer, then SIGTERM: serve shuts down. Before, the
// reload's check of the encryption keys against the store ran without a context, so it
// waited for the database for good, and with it serve's loop, which then never took the
// SIGTERM: the process ran on until killed.
func TestShutdownDuringAReloadOnAStalledStore(t *testing.T) {
	sv := testdb.Connect(t)
	u, err := url.Parse(sv.Migrated(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startStallingProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	cfg := writeTestConfig(t, fmt.Sprintf("driver: postgres\n  dsn: %q", u.String()), oauthProviders)

	trigger := make(chan struct{})
	logs := &lockedLog{}
	d := (&cli{}).deps(io.Discard, logs)
	addrc := make(chan string, 1)
	d.listening = func(addr string) { addrc <- addr }
	d.reload = trigger
	d.reloaded = func(error) {}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfg}, d) }()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case code := <-done:
		t.Fatalf("serve exited %d:\n%s", code, logs)
	}
	// A connection kept in the pool, as a serving process has.
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	resp.Body.Close()

	proxy.stall()
	trigger <- struct{}{} // taken: serve's loop is reloading
	// The database is asked, and does not answer.
	testwait.Recv(t, "the reload to ask the stalled database", proxy.swallowed)
	cancel() // SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d:\n%s", code, logs)
		}
	case <-time.After(2 * time.Minute): // a safety net, not a timing: it never ends otherwise
		t.Fatalf("serve did not shut down during a reload waiting for a database that does not answer:\n%s", logs)
	}
}
