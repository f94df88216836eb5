// Package connpark keeps an idle HTTP/1.1 keep-alive connection without net/http's
// goroutine and buffers: after a pause it takes the connection from net/http, waits for the
// client's next request on a goroutine so shallow that it keeps the runtime's smallest
// stack, and gives the connection back to net/http, through Accept, once that request
// arrives.
//
// net/http serves each connection on a goroutine that, between requests, waits on the
// socket with its stack (8 KiB at least) and its 4 KiB reader and writer buffers: 16 KiB a
// connection, 16 MiB for the 1,000 keep-alive connections Verify may hold open (issue 16's
// memory budget). A parked connection keeps a 2 KiB stack and a few hundred bytes. A
// connection busy enough to send its next request within the pause is never parked, so a
// loaded server pays nothing for it; one that is parked pays a goroutine start when its
// next request comes (BenchmarkRequest: within the noise of a kept connection's request
// after the same pause).
//
// Under TLS (NewTLS) the listener ends TLS itself and gives net/http the plain text: a
// crypto/tls connection keeps its session's state (keys, sequence numbers), so the one that
// is parked must be the one served again, and net/http closes (with a close_notify) any
// *tls.Conn it stops serving. A server on such a listener sets ConnContext and wraps its
// handler in Handler, which give each request its r.TLS as net/http would.
//
// Where a socket cannot be peeked at (outside Unix), New returns the listener unchanged,
// and NewTLS one that ends TLS without parking.
package connpark

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// After is how long a connection waits for its next request on net/http's goroutine before
// it is parked: far longer than the pause between a busy client's requests, short enough
// that a server soon holds its idle connections at a parked connection's cost.
const After = time.Second

// Listener is a listener whose connections are parked when idle (New). Its server must run
// ConnState as its http.Server.ConnState hook: that is how a connection learns that
// net/http is waiting for its next request.
type Listener struct {
	net.Listener
	after  time.Duration
	onPark func()
	lot    *lot // nil: nothing is parked (NewTLS where sockets cannot be peeked at)
	tls    *TLS // nil: plain HTTP

	start    sync.Once
	accepted chan accepted
	done     chan struct{}
	close    sync.Once
	closeErr error
}

type accepted struct {
	c   net.Conn
	err error
}

// New wraps ln so that its connections are parked after being idle for after. onPark, when
// not nil, runs each time a connection is parked (the server's quiet-spell trim counts it as
// activity: the goroutine and buffers it freed are garbage to collect). It returns ln itself
// where sockets cannot be peeked at.
func New(ln net.Listener, after time.Duration, onPark func()) net.Listener {
	l := &Listener{Listener: ln, after: after, onPark: onPark, accepted: make(chan accepted), done: make(chan struct{})}
	p, err := newLot(l)
	if err != nil {
		return ln
	}
	l.lot = p
	return l
}

// TLS is how a NewTLS listener serves HTTPS.
type TLS struct {
	Config *tls.Config
	// HandshakeFailed, when not nil, hears of each failed handshake, as net/http's
	// ErrorLog would ("http: TLS handshake error from ..."): crypto/tls's error,
	// ErrHTTPToHTTPS for a plain-HTTP request, io.EOF for a client that hung up before
	// a byte (a TCP health check's connection).
	HandshakeFailed func(remote net.Addr, err error)
}

// ErrHTTPToHTTPS is a handshake that was a plain-HTTP request, answered as net/http answers
// it.
var ErrHTTPToHTTPS = errors.New("client sent an HTTP request to an HTTPS server")

// NewTLS is New for HTTPS: ln's connections are served under t.Config, and parked when idle
// with their TLS session, which their next request then continues. net/http sees plain
// connections: its server must set ConnContext and wrap its handler in Handler for
// requests to carry r.TLS. The handshake runs at the connection's first read, under the
// read deadline net/http has set for a request's headers (ReadHeaderTimeout), writes
// included.
func NewTLS(ln net.Listener, t TLS, after time.Duration, onPark func()) *Listener {
	l := &Listener{Listener: ln, after: after, onPark: onPark, tls: &t, accepted: make(chan accepted), done: make(chan struct{})}
	if p, err := newLot(l); err == nil {
		l.lot = p
	}
	return l
}

// Accept returns the next new connection, or a parked one whose client sent its next
// request: net/http serves it from the start, as a new connection.
func (l *Listener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	var back chan net.Conn // nil (never ready) without a lot
	if l.lot != nil {
		back = l.lot.back
	}
	select {
	case c := <-back:
		return l.wrap(c, true), nil
	case a := <-l.accepted:
		if a.err != nil {
			return nil, a.err
		}
		c := a.c
		if l.tls != nil {
			c = tls.Server(c, l.tls.Config)
		}
		return l.wrap(c, false), nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// acceptLoop accepts on the wrapped listener for Accept, which also takes parked
// connections back: one Accept has to wait on both. Each result waits for an Accept, so a
// failing listener does not spin; the loop ends with the listener.
func (l *Listener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// Close closes the listener and every connection parked on it (they are idle: a server's
// shutdown closes its idle connections too).
func (l *Listener) Close() error {
	l.close.Do(func() {
		close(l.done)
		l.closeErr = l.Listener.Close()
		if l.lot != nil {
			l.lot.close()
		}
	})
	return l.closeErr
}

// Parked is how many of the listener's connections are parked now.
func (l *Listener) Parked() int {
	if l.lot == nil {
		return 0
	}
	return l.lot.parkedCount()
}

// wrap is c as net/http serves it; served: c was served before (parked since), so a TLS
// connection's handshake is done.
func (l *Listener) wrap(c net.Conn, served bool) net.Conn {
	w := &conn{Conn: c, l: l}
	if tc, ok := c.(*tls.Conn); ok {
		w.tc, w.handshaken = tc, served
	}
	return w
}

// park hands c to the lot; c is closed instead when the listener is closed or c is not a
// socket.
func (l *Listener) park(c net.Conn, idleDeadline time.Time) {
	if !l.lot.park(c, idleDeadline) {
		c.Close()
		return
	}
	if l.onPark != nil {
		l.onPark()
	}
}

// A connection's state between net/http's requests. net/http, once a response is written,
// calls its ConnState hook with StateIdle, sets the read deadline for the idle timeout, and
// reads (bufio's Peek) until the next request begins; then it sets the deadline for the
// headers. So StateIdle then a deadline arm the connection, and the next read is the wait
// for a request: that read may park it. Any other deadline or state in between disarms it.
type connState uint8

const (
	open     connState = iota
	idleNext           // StateIdle seen: the next read deadline is the idle timeout's
	armed              // the idle timeout set: the next read waits for a request
	parking            // idle for the pause: the read answered EOF, and Close parks
	gone               // closed or parked: this wrapper is done
)

type conn struct {
	net.Conn // under TLS, the *tls.Conn
	l        *Listener

	// Under TLS: the connection (nil for plain HTTP), whether its handshake is done, and
	// its state once it is, for r.TLS. Only net/http's goroutine for the connection reads
	// and sets them (its reads, then its handler).
	tc         *tls.Conn
	handshaken bool
	cs         *tls.ConnectionState
	// The deadlines net/http set last, restored after the handshake.
	readDL, writeDL time.Time

	mu    sync.Mutex
	state connState
	idle  time.Time // the idle timeout's deadline (zero: none), set when armed
	// bufSize is the length of the connection's first read: net/http's whole read buffer,
	// empty on a new connection. The wait for a request may park the connection only when
	// it reads into the whole buffer again. A pipelined request's first bytes already in
	// the buffer make that read shorter, and parking would lose them.
	bufSize int
}

// ConnState is the http.Server.ConnState hook that arms a parking connection when net/http
// waits for its next request. It looks through wrappers that give their connection with
// NetConn, but not through a *tls.Conn that net/http serves itself (over a New listener
// wrapped in tls.NewListener): its session lives in it, and parking the socket under it
// would lose that. NewTLS is the way to park HTTPS connections.
func ConnState(c net.Conn, s http.ConnState) {
	pc := unwrap(c)
	if pc == nil {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch {
	case s == http.StateIdle && pc.state == open:
		pc.state = idleNext
	case s != http.StateIdle && (pc.state == idleNext || pc.state == armed):
		pc.state = open
	}
}

func unwrap(c net.Conn) *conn {
	for range 8 {
		switch v := c.(type) {
		case *conn:
			return v
		case *tls.Conn:
			return nil
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDL = t
	switch c.state {
	case idleNext:
		c.state, c.idle = armed, t
	case armed:
		c.state = open
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDL = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDL, c.writeDL = t, t
	if c.state == idleNext || c.state == armed {
		c.state = open
	}
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *conn) Read(p []byte) (int, error) {
	if c.tc != nil && !c.handshaken {
		if err := c.handshake(); err != nil {
			return 0, err
		}
	}
	c.mu.Lock()
	if c.bufSize == 0 {
		c.bufSize = len(p)
	}
	wait := c.state == armed && len(p) == c.bufSize && c.l.lot != nil
	if c.state == armed {
		c.state = open
	}
	idle := c.idle
	c.mu.Unlock()
	if !wait {
		return c.Conn.Read(p)
	}
	return c.waitForRequest(p, idle)
}

// waitForRequest reads the start of the next request for at most the listener's pause; a
// connection that stays silent that long answers io.EOF, which ends net/http's goroutine
// for it, and its Close then parks it. A read that times out has taken no bytes.
func (c *conn) waitForRequest(p []byte, idle time.Time) (int, error) {
	until := time.Now().Add(c.l.after)
	if !idle.IsZero() && !idle.After(until) {
		return c.Conn.Read(p) // net/http's idle timeout comes first
	}
	if err := c.Conn.SetReadDeadline(until); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		if derr := c.Conn.SetReadDeadline(idle); err == nil {
			err = derr
		}
		return n, err
	}
	c.mu.Lock()
	park := c.state == open
	if park {
		c.state = parking
	}
	c.mu.Unlock()
	if !park {
		return 0, net.ErrClosed // closed meanwhile (a shutdown closing idle connections)
	}
	return 0, io.EOF
}

// handshake runs a TLS connection's handshake, as net/http would before its first request,
// but within the read deadline it has set for that request's headers: the handshake's
// writes too, then the write deadline is net/http's again. A failure is logged in
// net/http's words (a plain-HTTP request answered as net/http answers it) and read as
// io.EOF, on which net/http closes the connection without a word of its own.
func (c *conn) handshake() error {
	c.mu.Lock()
	readDL, writeDL := c.readDL, c.writeDL
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(readDL); err != nil {
		return err
	}
	if err := c.tc.Handshake(); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			err = ErrHTTPToHTTPS
		}
		if f := c.l.tls.HandshakeFailed; f != nil {
			f(c.RemoteAddr(), err)
		}
		return io.EOF
	}
	c.handshaken = true
	return c.Conn.SetWriteDeadline(writeDL)
}

// looksLikeHTTP is net/http's test of a record header that is the start of a request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// ConnContext is the http.Server.ConnContext hook of a NewTLS listener's server: it keeps
// the connection with its requests' context, where Handler finds its TLS state.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if pc := unwrap(c); pc != nil && pc.tc != nil {
		return context.WithValue(ctx, connKey{}, pc)
	}
	return ctx
}

type connKey struct{}

// Handler gives h's requests on a NewTLS listener's connections their r.TLS (the state of
// the connection's handshake, the client's certificate with it), as net/http does for the
// TLS connections it serves itself.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pc, ok := r.Context().Value(connKey{}).(*conn); ok && r.TLS == nil && pc.handshaken {
			if pc.cs == nil {
				cs := pc.tc.ConnectionState()
				pc.cs = &cs
			}
			r.TLS = pc.cs
		}
		h.ServeHTTP(w, r)
	})
}

// Close parks the connection when its wait for a request ended it, and closes it otherwise.
func (c *conn) Close() error {
	c.mu.Lock()
	s, idle := c.state, c.idle
	c.state = gone
	c.mu.Unlock()
	switch s {
	case gone:
		return net.ErrClosed
	case parking:
		c.l.park(c.Conn, idle)
		return nil
	}
	return c.Conn.Close()
}

// CloseWrite keeps net/http's half-close (after an answer that ends the connection).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
