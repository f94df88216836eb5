package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// g85Cut dials connections that, once a write carrying marker has gone out, wait at the
// next read until the server has committed it (seen on a connection of its own, check),
// then end the writing caller's context (cancel) before the answer is read: the caller
// gives up with its write in flight, as a request whose deadline passes then does. The
// wait is in Read, not in Write: a Write held more than 15 ms has pgx start its
// background reader, which reads the answer before the context ends, and the cut
// tests nothing (G76's first two cases passed without its fix).
type g85Cut struct {
	check  func() bool
	cancel context.CancelFunc

	mu       sync.Mutex
	marker   []byte
	pending  bool          // the marked write went out; its answer not yet read
	deadline chan struct{} // closed when a connection's deadline is put in the past
}

func (c *g85Cut) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &g85Conn{Conn: nc, c: c}, nil
}

type g85Conn struct {
	net.Conn
	c *g85Cut
}

func (cc *g85Conn) Write(b []byte) (int, error) {
	c := cc.c
	c.mu.Lock()
	if c.marker != nil && bytes.Contains(b, c.marker) {
		c.pending, c.marker = true, nil
	}
	c.mu.Unlock()
	return cc.Conn.Write(b)
}

func (cc *g85Conn) Read(b []byte) (int, error) {
	c := cc.c
	c.mu.Lock()
	pending := c.pending
	c.pending = false
	c.mu.Unlock()
	if pending {
		for i := 0; i < 500 && !c.check(); i++ {
			time.Sleep(10 * time.Millisecond) // the server commits: a wait, not an assertion
		}
		c.cancel()
		// pgx, watching the context, puts the deadline in the past; a store that does
		// not let the context interrupt the answer reads it, after a while.
		select {
		case <-c.deadline:
		case <-time.After(2 * time.Second):
		}
	}
	return cc.Conn.Read(b)
}

func (cc *g85Conn) SetDeadline(t time.Time) error {
	cc.past(t)
	return cc.Conn.SetDeadline(t)
}

func (cc *g85Conn) SetReadDeadline(t time.Time) error {
	cc.past(t)
	return cc.Conn.SetReadDeadline(t)
}

func (cc *g85Conn) past(t time.Time) {
	c := cc.c
	if !t.IsZero() && t.Before(time.Now()) {
		c.mu.Lock()
		select {
		case <-c.deadline:
		default:
			close(c.deadline)
		}
		c.mu.Unlock()
	}
}

// TestCommitCut: a write whose caller's context ends after the server has
// committed it, before its answer is read, is told it succeeded: a unit (each way its
// COMMIT goes out: with the unit's statements at the Sync, after statements already
// sent, with a deferred unit's SET LOCAL), and a single write on the pool (AppendAudit
// alone, an admin's write), each statement of which commits by itself. The single write
// was told "context canceled" of a row that was kept: an audit event retried twice, an
// admin's change reported failed that was made.
func TestCommitCut(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	look, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer look.Close()
	t0 := time.UnixMilli(1_800_000_000_000)
	for _, tt := range []struct {
		name                   string
		single, deferred, sent bool
	}{
		{name: "unit"},
		{name: "unit deferred", deferred: true},
		{name: "unit sent before", sent: true},
		{name: "single write", single: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprint("g85-cut-", tt.single, tt.deferred, tt.sent)
			// A request's context: it has a deadline, and Verify hanging up ends it.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cut := &g85Cut{cancel: cancel, deadline: make(chan struct{})}
			cut.check = func() bool {
				var n int
				if err := look.QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE request_id = $1`, id).Scan(&n); err != nil {
					t.Log(err)
				}
				return n == 1
			}
			s, err := postgres.Open(t.Context(), dsn, postgres.MaxConns(1), postgres.Dialed(cut.dial))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			uctx := ctx
			if tt.deferred {
				uctx = store.DeferSync(ctx)
			}
			cut.mu.Lock()
			cut.marker = []byte(id)
			cut.mu.Unlock()
			ev := store.AuditEvent{Time: t0, RequestID: id, Outcome: "SUCCESS"}
			if tt.single {
				err = s.AppendAudit(uctx, ev)
			} else {
				err = s.Update(uctx, func(w store.Writer) error {
					if tt.sent { // a statement whose result the unit awaits: BEGIN goes with it
						if _, err := w.DeleteSends(uctx, "g85-none"); err != nil {
							return err
						}
					}
					return w.AppendAudit(uctx, ev)
				})
			}
			if !cut.check() {
				t.Fatal("the write did not commit: the test cut nothing")
			}
			select {
			case <-cut.deadline:
			default:
				if err == nil {
					t.Log("no deadline was put in the past")
				}
			}
			if ctx.Err() == nil {
				t.Fatal("the caller's context did not end: the test cut nothing")
			}
			if err != nil {
				t.Errorf("a write committed while its caller gave up was told %v, and its row is there", err)
			}
			// The store goes on.
			if err := s.AppendAudit(t.Context(), store.AuditEvent{Time: t0, RequestID: id + "-after"}); err != nil {
				t.Errorf("the write after: %v", err)
			}
		})
	}
}
