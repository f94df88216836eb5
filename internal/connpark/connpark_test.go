//go:build unix

package connpark

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/rusage"
)

// server is an http.Server on a parking listener over loopback, answering each request with
// its path and the client's address.
type server struct {
	t      testing.TB
	addr   string
	srv    *http.Server
	l      *Listener
	parked chan struct{} // a send per park
	news   atomic.Int64  // connections net/http began serving (new or given back)

	tls        *tlsTest     // nil: plain HTTP
	handshakes atomic.Int64 // TLS handshakes completed
	failed     chan error   // TLS: each failed handshake's error
}

func serve(t testing.TB, after, idleTimeout time.Duration) *server {
	return serveWith(t, after, idleTimeout, nil, 5*time.Second)
}

// serveWith is serve, under TLS when tt is not nil (answers then end with " tls:" and the
// client certificate's common name, or "-" for none), with the given ReadHeaderTimeout.
func serveWith(t testing.TB, after, idleTimeout time.Duration, tt *tlsTest, headerTimeout time.Duration) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: ln.Addr().String(), parked: make(chan struct{}, 1024), tls: tt, failed: make(chan error, 16)}
	onPark := func() { s.parked <- struct{}{} }
	var pl *Listener
	if tt == nil {
		var ok bool
		if pl, ok = New(ln, after, onPark).(*Listener); !ok {
			t.Fatal("New did not wrap the listener on Linux")
		}
	} else {
		cfg := &tls.Config{
			Certificates: []tls.Certificate{tt.server},
			ClientCAs:    tt.pool,
			ClientAuth:   tls.VerifyClientCertIfGiven,
			VerifyConnection: func(tls.ConnectionState) error {
				s.handshakes.Add(1)
				return nil
			},
		}
		pl = NewTLS(ln, TLS{Config: cfg, HandshakeFailed: func(_ net.Addr, err error) { s.failed <- err }}, after, onPark)
		if pl.lot == nil {
			t.Fatal("NewTLS parks nothing on Linux")
		}
	}
	s.l = pl
	var served net.Listener = wrapping{pl}
	if tt != nil && tt.netHTTP { // net/http's own TLS, for comparison: nothing parked
		served = tls.NewListener(ln, pl.tls.Config)
	}
	s.srv = &http.Server{
		Handler: Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.URL.Path, r.RemoteAddr, body)
			if r.TLS != nil {
				cn := "-"
				if len(r.TLS.VerifiedChains) > 0 {
					cn = r.TLS.VerifiedChains[0][0].Subject.CommonName
				}
				fmt.Fprintf(w, " tls:%s", cn)
			}
		})),
		ConnContext:       ConnContext,
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       idleTimeout,
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.news.Add(1)
			}
			ConnState(c, st)
		},
	}
	// As adapter.JSONErrors does: a wrapper over each connection that gives it by NetConn.
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(served) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

type wrapping struct{ net.Listener }

func (w wrapping) Accept() (net.Conn, error) {
	c, err := w.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &outer{c}, nil
}

type outer struct{ net.Conn }

func (o *outer) NetConn() net.Conn { return o.Conn }

// waitParked waits for n parks; failing after ten seconds means they never came.
func (s *server) waitParked(n int) {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-s.parked:
		case <-timeout:
			s.t.Fatalf("connection not parked (%d parked now)", s.l.lot.parkedCount())
		}
	}
}

// waitFor polls cond until it holds, failing after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

type client struct {
	t      testing.TB
	c      net.Conn
	r      *bufio.Reader
	suffix string // what the server adds to each answer (TLS: " tls:" and the client's name)
}

func (s *server) dial() *client {
	s.t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: s.t, c: c, r: bufio.NewReader(c)}
}

func request(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, raw); err != nil {
		c.t.Fatal(err)
	}
}

// answer reads one response and checks it is the one to path with body, from this client.
func (c *client) answer(path, body string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("%s: %v", path, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatal(err)
	}
	if want := path + " " + c.c.LocalAddr().String() + " " + body + c.suffix; string(got) != want {
		c.t.Fatalf("answer %q, want %q", got, want)
	}
}

// closed checks that the server closed the connection: a read ends without a byte.
func (c *client) closed() {
	c.t.Helper()
	if b, err := c.r.ReadByte(); err == nil {
		c.t.Fatalf("read %q from a connection the server should have closed", b)
	}
}

func TestParkedConnectionServesItsNextRequest(t *testing.T) {
	s := serve(t, 10*time.Millisecond, time.Minute)
	c := s.dial()
	c.send(request("/one", "a"))
	c.answer("/one", "a")
	s.waitParked(1)
	if n := s.l.lot.parkedCount(); n != 1 {
		t.Fatalf("%d parked, want 1", n)
	}
	c.send(request("/two", "b"))
	c.answer("/two", "b") // the same client address: the same connection, given back
	if n := s.news.Load(); n != 2 {
		t.Errorf("net/http began serving %d connections, want 2 (the new one, then given back)", n)
	}
	s.waitParked(1) // and parked again
	c.send(request("/three", "c"))
	c.answer("/three", "c")
}

func TestConnectionBusierThanThePauseIsNotParked(t *testing.T) {
	s := serve(t, time.Hour, time.Minute)
	c := s.dial()
	for i := range 5 {
		p := fmt.Sprintf("/%d", i)
		c.send(request(p, "x"))
		c.answer(p, "x")
	}
	if n := s.news.Load(); n != 1 {
		t.Errorf("net/http began serving %d connections, want 1", n)
	}
	if n := len(s.parked); n != 0 {
		t.Errorf("%d parks", n)
	}
}

func TestPipelinedRequestsAreNotLost(t *testing.T) {
	s := serve(t, time.Millisecond, time.Minute)
	pipelined(t, s, s.dial())
}

// pipelined sends requests pipelined on c, and one whose first bytes come with the one
// before it: none is lost, and c is not parked while net/http's buffer holds them.
func pipelined(t *testing.T, s *server, c *client) {
	t.Helper()
	c.send(request("/one", "1") + request("/two", "2"))
	c.answer("/one", "1")
	c.answer("/two", "2")

	// The next request's first bytes arrive with this one: they sit in net/http's buffer
	// while it waits for the rest, so this connection must not be parked, however long the
	// rest takes.
	next := request("/four", "4")
	c.send(request("/three", "3") + next[:2])
	c.answer("/three", "3")
	time.Sleep(50 * time.Millisecond) // fifty pauses
	// Parked now, not parked at all: a client slower than the pause between "/two"'s answer
	// and "/three" had this connection parked then, rightly, and given back for "/three".
	// One parked with "/four"'s first bytes in the buffer would stay so: its socket is quiet.
	if n := s.l.Parked(); n != 0 {
		t.Fatalf("parked with a request's first bytes in net/http's buffer (%d parked)", n)
	}
	c.send(next[2:])
	c.answer("/four", "4")
}

func TestIdleTimeoutClosesParkedConnection(t *testing.T) {
	s := serve(t, time.Millisecond, 100*time.Millisecond)
	c := s.dial()
	c.send(request("/one", "a"))
	c.answer("/one", "a")
	s.waitParked(1)
	c.closed()
	waitFor(t, "the parked connection to be dropped", func() bool { return s.l.lot.parkedCount() == 0 })
}

func TestIdleTimeoutShorterThanThePauseIsNetHTTPs(t *testing.T) {
	s := serve(t, time.Hour, 20*time.Millisecond)
	c := s.dial()
	c.send(request("/one", "a"))
	c.answer("/one", "a")
	c.closed()
	if n := len(s.parked); n != 0 {
		t.Fatalf("%d parks", n)
	}
}

func TestClientHangingUpWhileParked(t *testing.T) {
	s := serve(t, time.Millisecond, time.Minute)
	c := s.dial()
	c.send(request("/one", "a"))
	c.answer("/one", "a")
	s.waitParked(1)
	c.c.Close()
	waitFor(t, "the hung-up connection to be dropped", func() bool { return s.l.lot.parkedCount() == 0 })
	if n := s.news.Load(); n != 1 {
		t.Errorf("net/http began serving %d connections, want 1: a hang-up is not a request", n)
	}
}

func TestShutdownClosesParkedConnections(t *testing.T) {
	s := serve(t, time.Millisecond, time.Minute)
	var cs []*client
	for i := range 3 {
		c := s.dial()
		p := fmt.Sprintf("/%d", i)
		c.send(request(p, ""))
		c.answer(p, "")
		cs = append(cs, c)
	}
	s.waitParked(3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		c.closed()
	}
	if n := s.l.lot.parkedCount(); n != 0 {
		t.Errorf("%d still parked after shutdown", n)
	}
}

// Many connections parked at once, then all sending at once: each gets its own answer.
func TestManyParkedConnectionsReturnTogether(t *testing.T) {
	s := serve(t, time.Millisecond, time.Minute)
	const n = 64
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = s.dial()
		p := fmt.Sprintf("/first/%d", i)
		cs[i].send(request(p, "x"))
		cs[i].answer(p, "x")
	}
	s.waitParked(n)
	for round := range 3 {
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Go(func() {
				p := fmt.Sprintf("/again/%d/%d", round, i)
				body := strings.Repeat("y", i)
				if _, err := io.WriteString(c.c, request(p, body)); err != nil {
					t.Error(err)
					return
				}
				resp, err := http.ReadResponse(c.r, nil)
				if err != nil {
					t.Error(err)
					return
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := p + " " + c.c.LocalAddr().String() + " " + body; string(got) != want {
					t.Errorf("answer %q, want %q", got, want)
				}
			})
		}
		wg.Wait()
		s.waitParked(n)
	}
}

func TestUnwrap(t *testing.T) {
	if unwrap(&outer{&conn{}}) == nil {
		t.Error("a NetConn wrapper hides the parking connection")
	}
	if unwrap(tls.Client(&outer{&conn{}}, &tls.Config{})) != nil {
		t.Error("a TLS connection's socket would be parked under it")
	}
	if unwrap(&outer{&net.TCPConn{}}) != nil {
		t.Error("found a parking connection where there is none")
	}
}

// BenchmarkRequest is the process's CPU (client and server: both in this process) for a
// request on a connection kept by net/http, back to back and after a millisecond's pause,
// and on one parked before each request (a millisecond after its answer): parked against
// kept-paused is what parking and giving back cost. ns/op includes the pauses; cpu-µs/op is
// the figure to read.
func BenchmarkRequest(b *testing.B) {
	for _, bc := range []struct {
		name   string
		after  time.Duration
		parked bool
		pause  time.Duration
		tls    string // "": plain HTTP; "connpark": NewTLS; "net/http": tls.NewListener
	}{
		{"kept", time.Hour, false, 0, ""},
		{"kept-paused", time.Hour, false, time.Millisecond, ""},
		{"parked", time.Millisecond, true, 0, ""},
		{"tls-net-http-kept", time.Hour, false, 0, "net/http"},
		{"tls-kept", time.Hour, false, 0, "connpark"},
		{"tls-net-http-kept-paused", time.Hour, false, time.Millisecond, "net/http"},
		{"tls-kept-paused", time.Hour, false, time.Millisecond, "connpark"},
		{"tls-parked", time.Millisecond, true, 0, "connpark"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var c *client
			var s *server
			if bc.tls == "" {
				s = serve(b, bc.after, time.Minute)
				c = s.dial()
			} else {
				tt := newTLSTest(b)
				tt.netHTTP = bc.tls == "net/http"
				s = serveWith(b, bc.after, time.Minute, tt, 5*time.Second)
				c = s.dialTLS(false)
			}
			req := request("/b", "x")
			b.ResetTimer()
			cpu0 := rusage.Process()
			for range b.N {
				c.send(req)
				c.answer("/b", "x")
				if bc.parked {
					<-s.parked
				}
				if bc.pause > 0 {
					time.Sleep(bc.pause)
				}
			}
			b.ReportMetric(float64((rusage.Process()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
