package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/store"
)

// resetPanics makes the writer's connections panic, once armed, at the PRAGMA that puts
// synchronous back to FULL after a deferred batch has committed: a driver's fault.
type resetPanics struct {
	driver.Connector
	armed *atomic.Bool
}

func (c resetPanics) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &resetPanicConn{closing: conn.(*closing), armed: c.armed}, nil
}

type resetPanicConn struct {
	*closing
	armed *atomic.Bool
}

func (c *resetPanicConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if q == "PRAGMA synchronous = FULL" && c.armed.CompareAndSwap(true, false) {
		panic("driver fault: the reset of synchronous")
	}
	return c.closing.ExecContext(ctx, q, args)
}

// TestPanicAfterCommitTellsTheTruth: a panic after a deferred batch's COMMIT
// returned (the driver's, at the reset of synchronous) leaves each unit of the batch the
// answer of its commit: a caller told of an error would take its durable write for lost
// (a code spent, the retry a replay). The panic reaches the caller that led the batch, and
// the next write works, on a fresh connection.
func TestPanicAfterCommitTellsTheTruth(t *testing.T) {
	ctx := t.Context()
	var armed atomic.Bool
	s, _ := openWrapped(t, func(c driver.Connector) driver.Connector { return resetPanics{Connector: c, armed: &armed} })

	dctx := store.DeferSync(context.Background())
	var arm sync.Once
	var us []queued
	for i := range 4 {
		fn := audit(dctx, fmt.Sprint("r-", i, "."))
		us = append(us, queued{dctx, func(w store.Writer) error {
			arm.Do(func() { armed.Store(true) }) // the first batch of them to run
			return fn(w)
		}})
	}
	errs, panics := queueBehind(t, s, nil, us...)
	var led int
	for _, p := range panics {
		if p != nil {
			led++
		}
	}
	if led != 1 {
		t.Errorf("%d callers saw the batch's panic, want the one that led it: %v", led, panics)
	}
	if failed := told(t, s, "r-", errs); failed != 0 {
		t.Errorf("%d units were told an error", failed)
	}
	if err := s.Update(ctx, audit(ctx, "r-after")); err != nil {
		t.Errorf("the write after: %v", err)
	}
}
