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

// g76Cut dials connections that, once a write carrying marker has reached the server
// and committed there (seen committed on a connection of its own, check), end the
// writing caller's context (cancel) before its answer is read: the caller gives up with
// its COMMIT in flight, as a request whose deadline passes then does.
type g76Cut struct {
	marker []byte
	check  func() bool
	cancel context.CancelFunc

	mu       sync.Mutex
	cut      bool          // the context was ended after the marked write
	deadline chan struct{} // closed when the connection's deadline is put in the past
}

func (c *g76Cut) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &g76Conn{Conn: nc, c: c}, nil
}

type g76Conn struct {
	net.Conn
	c *g76Cut
}

func (cc *g76Conn) Write(b []byte) (int, error) {
	c := cc.c
	marked := c.marker != nil && bytes.Contains(b, c.marker)
	n, err := cc.Conn.Write(b)
	if marked && err == nil {
		for i := 0; i < 500 && !c.check(); i++ {
			time.Sleep(10 * time.Millisecond) // the server commits: a wait, not an assertion
		}
		c.mu.Lock()
		c.cut, c.marker = true, nil
		c.mu.Unlock()
		c.cancel()
	}
	return n, err
}

func (cc *g76Conn) Read(b []byte) (int, error) {
	c := cc.c
	c.mu.Lock()
	cut := c.cut
	c.mu.Unlock()
	if cut {
		// pgx, watching the context, puts the deadline in the past; a store that no
		// longer lets the context interrupt its COMMIT's answer reads it, after a while.
		select {
		case <-c.deadline:
		case <-time.After(2 * time.Second):
		}
		c.mu.Lock()
		c.cut = false
		c.mu.Unlock()
	}
	return cc.Conn.Read(b)
}

func (cc *g76Conn) SetDeadline(t time.Time) error {
	cc.past(t)
	return cc.Conn.SetDeadline(t)
}

func (cc *g76Conn) SetReadDeadline(t time.Time) error {
	cc.past(t)
	return cc.Conn.SetReadDeadline(t)
}

func (cc *g76Conn) past(t time.Time) {
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

// TestReviewG76CommitAnsweredTruly: a unit whose caller's context ends while its COMMIT
// is in flight, after the server has committed it, is told it committed. Before, pgx
// cut the wait for the COMMIT's answer short, and the caller was told "context
// canceled" of a write that was kept: a TOTP decision answered as an error whose code
// was spent and whose SUCCESS was in the audit trail. (SQLite's group commit answers a
// unit that entered a batch with the batch's outcome, whatever its context does.)
func TestReviewG76CommitAnsweredTruly(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	look, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer look.Close()
	for _, tt := range []struct{ deferred, sentBefore bool }{{false, false}, {true, false}, {false, true}} {
		deferred := tt.deferred
		t.Run(fmt.Sprintf("deferred=%v sentBefore=%v", tt.deferred, tt.sentBefore), func(t *testing.T) {
			id := fmt.Sprint("g76-commit-cut-", tt.deferred, tt.sentBefore)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			cut := &g76Cut{cancel: cancel, deadline: make(chan struct{})}
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
			if deferred {
				uctx = store.DeferSync(ctx)
			}
			cut.mu.Lock()
			cut.marker = []byte(id)
			cut.mu.Unlock()
			err = s.Update(uctx, func(w store.Writer) error {
				if tt.sentBefore { // a statement whose result the unit awaits: BEGIN goes with it
					if _, err := w.DeleteSends(uctx, "g76-none"); err != nil {
						return err
					}
				}
				return w.AppendAudit(uctx, store.AuditEvent{Time: t0, RequestID: id, Outcome: "SUCCESS"})
			})
			committed := cut.check()
			if !committed {
				t.Fatal("the unit did not commit: the test cut nothing")
			}
			if err != nil {
				t.Errorf("a unit committed while its caller gave up was told %v, and its row is there", err)
			}
			// The store goes on.
			if err := s.AppendAudit(t.Context(), store.AuditEvent{Time: t0, RequestID: id + "-after"}); err != nil {
				t.Errorf("the write after: %v", err)
			}
		})
	}
}
