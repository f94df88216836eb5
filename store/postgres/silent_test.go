package postgres_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// g85Silent dials connections on which, once a write carrying marker has gone out, the
// server is silent: the next read waits for the connection's deadline and times out,
// as a database that stopped answering (a partition) leaves it. After that, reads pass
// through (pgx's close drains the connection). It counts the deadlines cleared on a
// connection after its silent read timed out: pgx closes such a connection in a
// goroutine of its own, which bounds its drain with a deadline of its own (15 s).
type g85Silent struct {
	mu      sync.Mutex
	marker  []byte
	dials   atomic.Int32
	cleared atomic.Int32 // deadlines cleared on a connection after it timed out
	timeout atomic.Int32 // silent reads that timed out
}

func (s *g85Silent) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	s.dials.Add(1)
	return &g85SilentConn{Conn: nc, s: s}, nil
}

type g85SilentConn struct {
	net.Conn
	s *g85Silent

	mu       sync.Mutex
	silent   bool
	timedOut bool
	deadline time.Time
}

// awaited is the deadline the last silent read waited for.
var g85Awaited atomic.Pointer[time.Time]

func (c *g85SilentConn) Write(b []byte) (int, error) {
	c.s.mu.Lock()
	if c.s.marker != nil && bytes.Contains(b, c.s.marker) {
		c.s.marker = nil
		c.mu.Lock()
		c.silent = true
		c.mu.Unlock()
	}
	c.s.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *g85SilentConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	silent, dl := c.silent && !c.timedOut, c.deadline
	c.mu.Unlock()
	if silent {
		if dl.IsZero() {
			dl = time.Now().Add(5 * time.Second) // no deadline: held, as a silent database holds it
		}
		g85Awaited.Store(&dl)
		time.Sleep(time.Until(dl))
		c.mu.Lock()
		c.timedOut = true
		c.mu.Unlock()
		c.s.timeout.Add(1)
		return 0, os.ErrDeadlineExceeded
	}
	return c.Conn.Read(b)
}

func (c *g85SilentConn) SetDeadline(t time.Time) error {
	c.set(t)
	return c.Conn.SetDeadline(t)
}

func (c *g85SilentConn) SetReadDeadline(t time.Time) error {
	c.set(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *g85SilentConn) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if t.IsZero() && c.timedOut {
		c.s.cleared.Add(1)
	}
}

// TestCommitSilent: a unit whose COMMIT went out to a database that then stays
// silent is told an error once commitWait has passed, not held, whatever its context;
// its connection is closed rather than reused half-read, and the next write runs on
// another. The deadline commitDetached put on the connection is not cleared once pgx
// has begun closing it: pgx's close sets a deadline of its own on the connection (15 s)
// to bound the drain of what the server still sends, and a clear landing after it left
// that drain, and its goroutine and socket, waiting on a silent database unbounded.
func TestCommitSilent(t *testing.T) {
	defer postgres.SetCommitWait(300 * time.Millisecond)()
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	sil := &g85Silent{}
	s, err := postgres.Open(t.Context(), dsn, postgres.MaxConns(1), postgres.Dialed(sil.dial))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.UnixMilli(1_800_000_000_000)
	for _, deferred := range []bool{false, true} {
		ctx, cancel := context.WithCancel(t.Context())
		uctx := ctx
		if deferred {
			uctx = store.DeferSync(ctx)
		}
		id := "g85-silent"
		if deferred {
			id += "-deferred"
		}
		sil.mu.Lock()
		sil.marker = []byte(id)
		sil.mu.Unlock()
		dials, timeouts := sil.dials.Load(), sil.timeout.Load()
		err := s.Update(uctx, func(w store.Writer) error {
			return w.AppendAudit(uctx, store.AuditEvent{Time: t0, RequestID: id, Outcome: "SUCCESS"})
		})
		cancel()
		if sil.timeout.Load() == timeouts {
			t.Fatalf("deferred=%v: no read went silent: the test tested nothing", deferred)
		}
		if err == nil {
			t.Errorf("deferred=%v: a unit whose COMMIT was never answered was told it committed", deferred)
		}
		if err := s.AppendAudit(t.Context(), store.AuditEvent{Time: t0, RequestID: id + "-after"}); err != nil {
			t.Errorf("deferred=%v: the write after: %v", deferred, err)
		}
		if sil.dials.Load() == dials {
			t.Errorf("deferred=%v: the connection of the silent COMMIT was reused", deferred)
		}
	}
	if n := sil.cleared.Load(); n != 0 {
		t.Errorf("%d deadlines cleared on a connection pgx was closing after a silent COMMIT: its drain could wait unbounded", n)
	}
}

// TestCommitSilentDeadline: a COMMIT that went out, its caller's deadline near,
// is awaited no longer than sqlstore.AnswerGrace past that deadline (the 2 s the README
// gives a write that outlives its request, provider.WriteGrace), not commitWait (10 s):
// the request answers 503 then, its connection to Verify past its write deadline
// (requestTimeout + 5 s) by the time a 10 s wait ended, and a connection of the pool held
// for an answer nobody can use.
func TestCommitSilentDeadline(t *testing.T) {
	if sqlstore.AnswerGrace != provider.WriteGrace {
		t.Errorf("sqlstore.AnswerGrace %v, provider.WriteGrace %v: they are one promise", sqlstore.AnswerGrace, provider.WriteGrace)
	}
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	sil := &g85Silent{}
	s, err := postgres.Open(t.Context(), dsn, postgres.MaxConns(1), postgres.Dialed(sil.dial))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	limit, _ := ctx.Deadline()
	limit = limit.Add(sqlstore.AnswerGrace)
	sil.mu.Lock()
	sil.marker = []byte("g85-silent-deadline")
	sil.mu.Unlock()
	g85Awaited.Store(nil)
	err = s.Update(ctx, func(w store.Writer) error {
		return w.AppendAudit(ctx, store.AuditEvent{Time: time.UnixMilli(1_800_000_000_000), RequestID: "g85-silent-deadline"})
	})
	if err == nil {
		t.Error("a unit whose COMMIT was never answered was told it committed")
	}
	dl := g85Awaited.Load()
	if dl == nil {
		t.Fatal("no read went silent: the test tested nothing")
	}
	if dl.After(limit) {
		t.Errorf("the COMMIT's answer was awaited until %v past its caller's deadline, want at most %v",
			dl.Sub(limit)+sqlstore.AnswerGrace, sqlstore.AnswerGrace)
	}
}
