package testdb

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// OpenAs opens a store on dsn whose sessions are named app (application_name), for
// WaitsForLock, and look for a deadlock after deadlockTimeout (PostgreSQL's
// deadlock_timeout, "50ms"; "" the server's): of two sessions that deadlock, the one
// with the shorter is the one aborted, so a test that orders two units' locks chooses
// the victim. The store closes when tb ends.
func (sv *Server) OpenAs(tb testing.TB, dsn, app, deadlockTimeout string) *postgres.Store {
	tb.Helper()
	dsn += "&application_name=" + app
	if deadlockTimeout != "" {
		dsn += "&deadlock_timeout=" + deadlockTimeout
	}
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("open postgres as %s: %v", app, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// WaitsForLock reports whether a session named app (OpenAs) waits for a lock.
func (sv *Server) WaitsForLock(tb testing.TB, app string) bool {
	tb.Helper()
	var n int
	if err := sv.Admin.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n); err != nil {
		tb.Fatalf("read the sessions waiting for a lock: %v", err)
	}
	return n > 0
}

// WaitForLock polls until a session named app waits for a lock; done, on which the work
// that should wait answers, must not answer first.
func (sv *Server) WaitForLock(tb testing.TB, app string, done <-chan error) {
	tb.Helper()
	testwait.Until(tb, app+" waiting for a lock", time.Millisecond, func() bool {
		if sv.WaitsForLock(tb, app) {
			return true
		}
		select {
		case err := <-done:
			tb.Fatalf("%s did not wait for a lock: %v", app, err)
		default:
		}
		return false
	})
}

// Hold takes a lock in a transaction of its own on dsn, which the units a test orders
// wait behind: q is a SELECT … FOR UPDATE of a row or a pg_advisory_xact_lock. release
// commits it (the lock given up, they go on); a hold not released ends with the test.
func (sv *Server) Hold(tb testing.TB, dsn, q string, args ...any) (release func()) {
	tb.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn) // dsn's pool settings are the pool's, not the server's
	if err != nil {
		tb.Fatalf("connect to hold a lock: %v", err)
	}
	tb.Cleanup(pool.Close)
	tx, err := pool.Begin(ctx)
	if err != nil {
		tb.Fatalf("begin to hold a lock: %v", err)
	}
	tb.Cleanup(func() { tx.Rollback(context.Background()) }) // before the pool's Close, which waits for its connection
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		tb.Fatalf("hold a lock (%s): %v", q, err)
	}
	return func() {
		tb.Helper()
		if err := tx.Commit(ctx); err != nil {
			tb.Fatalf("release the lock held: %v", err)
		}
	}
}

// Gated is a store whose units, once Gate is set, run on the writer Wrap makes of
// theirs: one that holds the unit, at the write a lock-order test is about, on Gate (a
// factor's row or lock the test holds). Runs counts the units run since the test last
// reset it (a deadlock's victim runs again). Set Gate and Runs before the units start.
type Gated struct {
	store.Store
	Wrap func(w store.Writer, gate string) store.Writer
	Gate string
	Runs atomic.Int32
}

func (s *Gated) Update(ctx context.Context, fn func(w store.Writer) error) error {
	if s.Gate == "" {
		return s.Store.Update(ctx, fn)
	}
	return s.Store.Update(ctx, func(w store.Writer) error {
		s.Runs.Add(1)
		return fn(s.Wrap(w, s.Gate))
	})
}
