// Package tcpproxy is a TCP proxy on loopback for tests: it forwards to a server (the test
// PostgreSQL) both ways, and can cut every live connection (a restart), refuse the next
// ones, or stall (a network partition: nothing forwarded, nothing closed).
package tcpproxy

import (
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a running proxy; its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	conns   map[net.Conn]bool
	refuse  int
	stalled chan struct{} // closed while forwarding; replaced by an open one to stall
}

// Start forwards connections to target (host:port) until the test ends.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]bool{}, stalled: open}
	go p.serve()
	tb.Cleanup(func() {
		ln.Close()
		p.Resume()
		p.CutAll()
	})
	return p
}

// ForDSN starts a proxy to the host of a URL-form DSN and returns the DSN through it.
func ForDSN(tb testing.TB, dsn string) (string, *Proxy) {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	p := Start(tb, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.refuse > 0 {
			p.refuse--
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		go p.pipe(c)
	}
}

// gate waits while the proxy stalls.
func (p *Proxy) gate() {
	p.mu.Lock()
	ch := p.stalled
	p.mu.Unlock()
	<-ch
}

func (p *Proxy) pipe(c net.Conn) {
	p.gate()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if !p.conns[c] { // cut meanwhile
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[s] = true
	p.mu.Unlock()
	cp := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.gate()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					p.gate() // a stalled proxy passes on no close either
				}
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go cp(s, c)
	cp(c, s)
}

// CutAll closes every live connection, both ways: a server restart.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Refuse closes the next n connections as soon as they are accepted.
func (p *Proxy) Refuse(n int) {
	p.mu.Lock()
	p.refuse = n
	p.mu.Unlock()
}

// Stall stops forwarding, on old and new connections alike, closing nothing: a network
// partition.
func (p *Proxy) Stall() {
	p.mu.Lock()
	select {
	case <-p.stalled:
		p.stalled = make(chan struct{})
	default:
	}
	p.mu.Unlock()
}

// Resume forwards again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	select {
	case <-p.stalled:
	default:
		close(p.stalled)
	}
	p.mu.Unlock()
}
