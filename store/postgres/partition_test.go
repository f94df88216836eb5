package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// pgProxy is a TCP proxy on loopback in front of the test server: it forwards both ways,
// and can cut every live connection, refuse the next n, or stall (forward nothing, in
// either direction, on old and new connections alike, closing nothing).
type pgProxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	conns   map[net.Conn]bool
	refuse  int
	stalled chan struct{} // closed while forwarding; replaced by an open one to stall
	accept  int           // connections accepted and forwarded
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	close(open)
	p := &pgProxy{target: target, ln: ln, conns: map[net.Conn]bool{}, stalled: open}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Resume()
		p.CutAll()
	})
	return p
}

func (p *pgProxy) Addr() string { return p.ln.Addr().String() }

func (p *pgProxy) serve() {
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

func (p *pgProxy) gate() {
	p.mu.Lock()
	ch := p.stalled
	p.mu.Unlock()
	<-ch
}

func (p *pgProxy) pipe(c net.Conn) {
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
	p.accept++
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
				if !errors.Is(err, io.EOF) {
					break
				}
				p.gate()
				break
			}
		}
		p.gate()
		dst.Close()
		src.Close()
	}
	go cp(s, c)
	cp(c, s)
}

// CutAll closes every live connection, both ways.
func (p *pgProxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Refuse closes the next n connections as soon as they are accepted.
func (p *pgProxy) Refuse(n int) {
	p.mu.Lock()
	p.refuse = n
	p.mu.Unlock()
}

// Stall stops forwarding, closing nothing: a network partition.
func (p *pgProxy) Stall() {
	p.mu.Lock()
	select {
	case <-p.stalled:
		p.stalled = make(chan struct{})
	default:
	}
	p.mu.Unlock()
}

// Resume forwards again.
func (p *pgProxy) Resume() {
	p.mu.Lock()
	select {
	case <-p.stalled:
	default:
		close(p.stalled)
	}
	p.mu.Unlock()
}

// proxied is dsn with its host:port replaced by addr.
func proxied(t *testing.T, dsn, addr string) (string, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	u.Host = addr
	return u.String(), target
}

// reviewStores opens a store through a proxy and one straight to the server, both on one
// fresh schema.
func reviewStores(t *testing.T, opts ...postgres.Option) (*postgres.Store, *postgres.Store, *pgProxy) {
	t.Helper()
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	pdsn, target := proxied(t, dsn, "placeholder:1")
	p := newPGProxy(t, target)
	pdsn, _ = proxied(t, dsn, p.Addr())
	direct, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	via, err := postgres.Open(t.Context(), pdsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { via.Close() })
	return via, direct, p
}

var reviewLimits = []store.SendLimit{{Window: time.Hour, Max: 100}}

// TestRestartRecovers: every connection cut and new ones refused for a while (a
// PostgreSQL restart): the store answers again, without being reopened, once the server
// takes connections.
func TestRestartRecovers(t *testing.T) {
	via, _, p := reviewStores(t)
	ctx := t.Context()
	if err := via.ReserveSend(ctx, []string{"user:a"}, reviewLimits, time.Now()); err != nil {
		t.Fatal(err)
	}
	p.Refuse(5)
	p.CutAll()
	deadline := time.Now().Add(15 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = via.Ping(c)
		if err == nil {
			err = via.ReserveSend(c, []string{"user:a"}, reviewLimits, time.Now())
		}
		cancel()
		if err == nil {
			return
		}
	}
	t.Fatalf("the store did not recover after the restart: %v", err)
}

// TestStallReleasesLocks: a replica whose connection to the database is cut off
// mid-unit without either end seeing it close (a network partition) must not leave its
// transaction, and the locks it holds, open on the server for good: every other replica's
// send to that user (ReserveSend's advisory lock) would wait on it and fail.
func TestStallReleasesLocks(t *testing.T) {
	via, direct, p := reviewStores(t)
	ctx := t.Context()
	uctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	err := via.Update(uctx, func(w store.Writer) error {
		if err := w.ReserveSend(uctx, []string{"user:held"}, reviewLimits, time.Now()); err != nil {
			return err
		}
		p.Stall()
		return w.ReserveSend(uctx, []string{"user:other"}, reviewLimits, time.Now())
	})
	if err == nil {
		t.Fatal("the stalled unit committed")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the stalled unit took %v to give up, want its deadline plus the rollback's", d)
	}
	// Another replica sends to the same user.
	start = time.Now()
	c2, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	if err := direct.ReserveSend(c2, []string{"user:held"}, reviewLimits, time.Now()); err != nil {
		t.Fatalf("another replica's send to the user waited %v on the lost transaction's lock: %v", time.Since(start), err)
	}
	t.Logf("waited %v", time.Since(start))
}
