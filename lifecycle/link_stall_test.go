package lifecycle_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store/postgres"
)

// stallProxy forwards loopback connections to PostgreSQL until Stall, after which it
// forwards nothing and closes nothing (a network partition); Resume forwards again.
type stallProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	stalled chan struct{}
	conns   []net.Conn
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target, stalled: make(chan struct{})}
	close(p.stalled)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.Resume()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *stallProxy) gate() {
	p.mu.Lock()
	ch := p.stalled
	p.mu.Unlock()
	<-ch
}

func (p *stallProxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, s)
	p.mu.Unlock()
	cp := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			p.gate()
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go cp(s, c)
	cp(c, s)
}

func (p *stallProxy) Stall() {
	p.mu.Lock()
	select {
	case <-p.stalled:
		p.stalled = make(chan struct{})
	default:
	}
	p.mu.Unlock()
}

func (p *stallProxy) Resume() {
	p.mu.Lock()
	select {
	case <-p.stalled:
	default:
		close(p.stalled)
	}
	p.mu.Unlock()
}

// stallingMailer partitions the database away as it fails to send.
type stallingMailer struct{ p *stallProxy }

func (m stallingMailer) Send(context.Context, delivery.Message) error {
	m.p.Stall()
	return errors.New("smtp: 451 try again later")
}
func (stallingMailer) Kind() string                   { return "smtp" }
func (stallingMailer) Serves(c delivery.Channel) bool { return c == delivery.Email }

// TestIssueLinkStalledStoreBounded: a link whose mail failed gives its minute back
// on a detached context; with the database partitioned away at that moment, the admin
// call must still end near its deadline, not wait on the store for good.
func TestIssueLinkStalledStoreBounded(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newStallProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	st, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, _ := newManager(t, st)
	email := "alice@example.com"
	if _, err := m.CreateUser(t.Context(), "test", lifecycle.UserInput{Name: "alice", Email: &email}); err != nil {
		t.Fatal(err)
	}
	ss := mailedSelfService(t, m, stallingMailer{p})
	// Open a few connections, idle in the pool when the partition comes.
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = st.GetUserRecord(t.Context(), "alice")
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := ss.IssueLink(ctx, lifecycle.Actor("test"), "alice", true)
		done <- err
	}()
	select {
	case err := <-done:
		if d := time.Since(start); d > 6*time.Second { // its deadline, WriteGrace and some
			t.Errorf("IssueLink took %v (%v) with a 1s deadline", d, err)
		}
	case <-time.After(15 * time.Second):
		p.Resume()
		err := <-done
		t.Fatalf("IssueLink with a 1s deadline still waited on the stalled store after 15s (then: %v)", err)
	}
}
