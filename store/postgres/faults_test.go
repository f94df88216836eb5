package postgres_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// faults dials the store's connections through faultConn, whose next write or read can
// be made to fail.
type faults struct {
	dials atomic.Int64
	// failWrite: the next write fails before a byte goes out (a connection the server
	// closed while it sat in the pool): pgx may retry it.
	failWrite atomic.Bool
	// breakRead: the next read after a statement's Bind went out closes the connection
	// and fails (the server or the network gone mid-answer).
	breakRead atomic.Bool
	// mu guards onWrite, which, if set, runs before each write goes out.
	mu      sync.Mutex
	onWrite func()
	// wrote: a statement's Bind went out since it was last cleared.
	wrote atomic.Bool
}

func (f *faults) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	f.dials.Add(1)
	return &faultConn{Conn: c, f: f}, nil
}

type faultConn struct {
	net.Conn
	f *faults
}

var errInjected = errors.New("injected fault")

func (c *faultConn) Write(b []byte) (int, error) {
	if c.f.failWrite.CompareAndSwap(true, false) {
		return 0, errInjected
	}
	c.f.mu.Lock()
	fn := c.f.onWrite
	c.f.mu.Unlock()
	if fn != nil {
		fn()
	}
	if len(b) > 0 && b[0] == 'B' { // a Bind: a statement runs (not a ping, not a prepare)
		c.f.wrote.Store(true)
	}
	return c.Conn.Write(b)
}

func (c *faultConn) Read(b []byte) (int, error) {
	if c.f.wrote.Load() && c.f.breakRead.CompareAndSwap(true, false) {
		c.Conn.Close()
		return 0, errInjected
	}
	return c.Conn.Read(b)
}

// faulty opens a store of one connection dialed through f, with alice (u1) and her TOTP
// factor f1.
func faulty(t *testing.T, f *faults) store.Store {
	t.Helper()
	sv := testdb.Connect(t)
	return openAlice(t, sv.Migrated(t), time.UnixMilli(0), postgres.MaxConns(1), postgres.Dialed(f.dial))
}

// TestPooledReadFaults: a single-row read through pgx on the pooled connection
// (dialect.ReadRow) retries on a new connection when the pooled one failed before the
// query went out, as database/sql did; fails, never answers a zero row, when the
// connection breaks mid-answer, and the broken connection is not handed out again.
func TestPooledReadFaults(t *testing.T) {
	f := &faults{}
	s := faulty(t, f)
	ctx := t.Context()
	read := func() (store.Factor, store.User, error) {
		rctx, cancel := context.WithCancel(ctx) // a request's
		defer cancel()
		return s.GetFactorAndUser(rctx, "f1", "alice")
	}
	if _, _, err := read(); err != nil {
		t.Fatal(err)
	}
	dials := f.dials.Load()
	f.failWrite.Store(true)
	fa, u, err := read()
	if err != nil || fa.ID != "f1" || u.ID != "u1" {
		t.Errorf("a read whose pooled connection failed before sending: %+v %+v %v, want f1 and u1 read on a new one", fa, u, err)
	}
	// Two: the new connection, and the cancel request pgx sends closing the broken one.
	if n := f.dials.Load() - dials; n > 2 {
		t.Errorf("%d connections dialed for it, want 2", n)
	}
	f.wrote.Store(false)
	f.breakRead.Store(true)
	fa, u, err = read()
	if err == nil {
		t.Errorf("a read whose connection broke mid-answer: %+v %+v, no error", fa, u)
	}
	for i := range 2 {
		if fa, u, err := read(); err != nil || fa.ID != "f1" || u.ID != "u1" {
			t.Errorf("read %d after the break: %+v %+v %v", i, fa, u, err)
		}
	}
	// A user read beside the factor that is not there: every nullable column NULL.
	fa, u, err = s.GetFactorAndUser(ctx, "f1", "bob")
	if err != nil || fa.ID != "f1" || u != (store.User{}) {
		t.Errorf("with no such user: %+v %+v %v", fa, u, err)
	}
	fa, u, tx, err := s.GetFactorUserAndTransaction(ctx, "f1", "bob", "t-none")
	if err != nil || fa.ID != "f1" || u != (store.User{}) || tx.ID != "" || tx.Secret != nil || tx.Data != nil {
		t.Errorf("with no such user nor transaction: %+v %+v %+v %v", fa, u, tx, err)
	}
}

// TestUnitCanceledMidBatch: a unit whose context ends as its batch goes out, or
// whose connection breaks mid-answer, commits whole or not at all, and the next units on
// the pool's one connection (a fresh one, or the same one out of its transaction) commit.
func TestUnitCanceledMidBatch(t *testing.T) {
	f := &faults{}
	s := faulty(t, f)
	ctx := t.Context()
	runs := 0
	if _, _, err := decide(ctx, s, 1, key("w1", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.mu.Lock()
	f.onWrite = cancel // the unit's first batch goes out, and its request ends
	f.mu.Unlock()
	_, _, err := decide(uctx, s, 2, key("w2", "a"), &runs)
	f.mu.Lock()
	f.onWrite = nil
	f.mu.Unlock()
	t.Logf("the unit canceled on the wire: %v", err)
	// The next units take the factor's row after the canceled one, which the server may
	// still be running: its batch went out with its COMMIT, and whatever the client's
	// context did then, the server commits it or not (a failure says only that the
	// outcome is unknown, as a COMMIT's own round trip always did).
	for _, c := range []int64{3, 4} {
		out, _, err := decide(ctx, s, c, key("w"+string(rune('0'+c)), "a"), &runs)
		if err != nil || out != "SUCCESS" {
			t.Errorf("the next unit (counter %d): %s %v", c, out, err)
		}
	}
	// All of it or none: its audit row with its record.
	_, rerr := s.GetIdempotency(ctx, key("w2", "a"))
	got := audited(t, s)
	if slices.Contains(got, "w2:SUCCESS") != (rerr == nil) || (err == nil && rerr != nil) {
		t.Errorf("a unit canceled on the wire (%v): audit %q, its record %v: want all of it or none", err, got, rerr)
	}
	// Broken mid-answer: fails, and the next unit commits on a new connection.
	f.wrote.Store(false)
	f.breakRead.Store(true)
	_, _, err = decide(ctx, s, 5, key("w5", "a"), &runs)
	t.Logf("the unit broken mid-answer: %v", err)
	for _, c := range []int64{6, 7} {
		out, _, err := decide(ctx, s, c, key("w"+string(rune('0'+c)), "a"), &runs)
		if err != nil || out != "SUCCESS" {
			t.Errorf("after a break, the next unit (counter %d): %s %v", c, out, err)
		}
	}
}
