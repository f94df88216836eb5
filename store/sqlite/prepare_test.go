package sqlite

import (
	"context"
	"database/sql/driver"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// c34Hooks is what c34Conn's statements are made to do.
type c34Hooks struct {
	// block, once armed, holds the first statement run as text or prepared whose text
	// begins with it: entered is closed as it is reached, and it goes on once release is
	// closed.
	block            atomic.Pointer[string]
	entered, release chan struct{}
	// panicPrepare, once armed, makes the next statement prepared on the connection whose
	// text begins with it panic, as a driver's fault would.
	panicPrepare atomic.Pointer[string]
}

type c34Conn struct {
	*closing
	h *c34Hooks
}

func (c *c34Conn) hold(q string) {
	if p := c.h.block.Load(); p != nil && strings.HasPrefix(strings.TrimSpace(q), *p) && c.h.block.CompareAndSwap(p, nil) {
		close(c.h.entered)
		<-c.h.release
	}
}

func (c *c34Conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.hold(q)
	return c.closing.ExecContext(ctx, q, args)
}

func (c *c34Conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.hold(q)
	return c.closing.QueryContext(ctx, q, args)
}

func (c *c34Conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if p := c.h.panicPrepare.Load(); p != nil && strings.HasPrefix(strings.TrimSpace(q), *p) && c.h.panicPrepare.CompareAndSwap(p, nil) {
		panic("injected: the driver panicked preparing " + q)
	}
	c.hold(q) // a transaction prepares on itself what the pool has not prepared yet
	return c.closing.PrepareContext(ctx, q)
}

type c34Connector struct {
	driver.Connector
	h *c34Hooks
}

func (c c34Connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &c34Conn{closing: conn.(*closing), h: c.h}, nil
}

// TestPrepareMissedPanicAfterCommit: once its batch has committed, the leader
// prepares on the writer's pool the statements a transaction outside the group (an
// import's) ran as text (prepareMissed). A panic of the driver's there reached the
// leader's caller, whose write had committed: told it failed, it would retry a write
// that is durable (a replay, for a decision). The caller is told its write committed, the
// statement runs as text until it is prepared, and the writer and the import go on.
func TestPrepareMissedPanicAfterCommit(t *testing.T) {
	h := &c34Hooks{entered: make(chan struct{}), release: make(chan struct{})}
	var s *Store
	var arm atomic.Bool
	imported := make(chan []error, 1)
	block := "INSERT INTO users"
	hook := func() {
		if !arm.CompareAndSwap(true, false) {
			return
		}
		// The batch has committed and given the connection back: an import takes it,
		// and prepares on its transaction a statement the pool has not prepared yet,
		// which it notes as missed. The leader then takes the note, and waits for the
		// connection to prepare it on the pool.
		h.block.Store(&block)
		go func() {
			imported <- s.ApplyUserChanges(context.Background(), []store.UserChange{
				{Name: "imported", Create: &store.User{ID: "u-imported", Name: "imported", CreatedAt: reviewAt}},
			})
		}()
		testwait.Recv(t, "the import to run its statement", h.entered)
	}
	s, _ = openWrapped(t, func(c driver.Connector) driver.Connector { return c34Connector{Connector: c, h: h} }, sqlstore.AfterCommit(hook))
	ctx := context.Background()
	if err := s.Update(ctx, audit(ctx, "seed")); err != nil {
		t.Fatal(err)
	}
	waits := s.w.Stats().WaitCount
	arm.Store(true)
	led := make(chan any, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				led <- p
			}
		}()
		led <- s.Update(ctx, audit(ctx, "p-leader"))
	}()
	// The leader waits for the connection the import holds, to prepare what it missed.
	testwait.Until(t, "the leader to wait for the writer's connection", time.Millisecond, func() bool {
		return s.w.Stats().WaitCount > waits
	})
	// The held statement, which the leader's note names: the import, bound to it already,
	// does not prepare it again, and its other statements prepare as they would.
	h.panicPrepare.Store(&block)
	close(h.release)
	for i, err := range testwait.Recv(t, "the import to end", imported) {
		if err != nil {
			t.Errorf("import change %d: %v", i, err)
		}
	}
	got := testwait.Recv(t, "the leader to be answered", led)
	if n := audits(t, s, "p-leader"); got != nil || n != 1 {
		t.Errorf("the caller that led the batch was told %v; %d rows of its write are there", got, n)
	}
	if h.panicPrepare.Load() != nil {
		t.Error("no statement was prepared after the batch: the fault was not reached")
	}
	if err := s.Update(ctx, audit(ctx, "p-after")); err != nil {
		t.Errorf("the write after: %v", err)
	}
	if err := createUser(s, ctx, "u-after"); err != nil {
		t.Errorf("a user created after: %v", err)
	}
	if n := users(t, s, "u-"); n != 2 {
		t.Errorf("%d users u-*, want 2", n)
	}
}
