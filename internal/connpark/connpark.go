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
// Parking works on plain TCP only: a TLS connection's state lives in crypto/tls's
// connection, which net/http holds. Where a socket cannot be peeked at (outside Unix), New
// returns the listener unchanged.
package connpark

import (
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
	lot    *lot

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

// Accept returns the next new connection, or a parked one whose client sent its next
// request: net/http serves it from the start, as a new connection.
func (l *Listener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.lot.back:
		return l.wrap(c), nil
	case a := <-l.accepted:
		if a.err != nil {
			return nil, a.err
		}
		return l.wrap(a.c), nil
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
		l.lot.close()
	})
	return l.closeErr
}

// Parked is how many of the listener's connections are parked now.
func (l *Listener) Parked() int { return l.lot.parkedCount() }

func (l *Listener) wrap(c net.Conn) net.Conn { return &conn{Conn: c, l: l} }

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
	net.Conn
	l *Listener

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
// NetConn (as crypto/tls's does, though a TLS connection is never parked).
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
	switch c.state {
	case idleNext:
		c.state, c.idle = armed, t
	case armed:
		c.state = open
	}
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	if c.state == idleNext || c.state == armed {
		c.state = open
	}
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.bufSize == 0 {
		c.bufSize = len(p)
	}
	wait := c.state == armed && len(p) == c.bufSize
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
