package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testfs"
	"github.com/emfa/emfa/store"
)

// c26Sync is the writer connection's synchronous setting between batches (the pool's one
// connection).
func c26Sync(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReviewC26DeferredBatchBeginBad: a deferred batch whose connection takes the
// PRAGMA that defers its sync (synchronous=NORMAL) and is then found broken at BEGIN
// runs on a fresh connection, and neither connection is left at NORMAL for a durable
// batch: the broken one is closed, the fresh one is put back to FULL after the batch,
// and the durable batch after commits on a connection at FULL.
func TestReviewC26DeferredBatchBeginBad(t *testing.T) {
	s, f, path := openFaulty(t)
	ctx := context.Background()
	dctx := store.DeferSync(ctx)
	if err := s.Update(dctx, audit(dctx, "x-0")); err != nil {
		t.Fatal(err)
	}
	users(t, s, "x") // the reader opened
	fds, opened := testfs.OpenFiles(t, path), f.opened.Load()
	f.beginBad.Store(1)
	if err := s.Update(dctx, audit(dctx, "x-1")); err != nil {
		t.Errorf("a deferred batch whose connection broke at BEGIN, after its PRAGMA: %v", err)
	}
	if n := f.beginBad.Load(); n != 0 {
		t.Fatalf("the fault did not happen (%d left)", n)
	}
	if got := f.opened.Load() - opened; got != 1 {
		t.Errorf("%d connections opened, want 1", got)
	}
	if got := f.closed.Load(); got != 1 {
		t.Errorf("%d connections closed, want the broken one", got)
	}
	if got := c26Sync(t, s); got != 2 {
		t.Errorf("after the deferred batch: synchronous %d, want 2 (FULL)", got)
	}
	if err := s.Update(ctx, audit(ctx, "x-2")); err != nil {
		t.Errorf("the durable batch after: %v", err)
	}
	if got := c26Sync(t, s); got != 2 {
		t.Errorf("after the durable batch: synchronous %d, want 2 (FULL)", got)
	}
	if n := audits(t, s, "x-"); n != 3 {
		t.Errorf("%d audit rows x-*, want 3", n)
	}
	if n := f.misused.Load(); n != 0 {
		t.Errorf("%d statements ran on a connection closed", n)
	}
	if got := testfs.OpenFiles(t, path); got != fds {
		t.Errorf("%d descriptors on the file, %d before", got, fds)
	}
}

// TestReviewC26RetriesMeetClose: Close while the writer goes through broken connections
// (every BEGIN fails with driver.ErrBadConn): the unit is answered with an error, Close
// returns, every connection opened is closed, and no descriptor is left on the file.
func TestReviewC26RetriesMeetClose(t *testing.T) {
	s, f, path := openFaulty(t)
	ctx := context.Background()
	if err := createUser(s, ctx, "y1"); err != nil {
		t.Fatal(err)
	}
	f.beginBad.Store(1 << 20)
	done := make(chan error, 8)
	for i := range 8 {
		go func() { done <- createUser(s, ctx, "y-"+string(rune('a'+i))) }()
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for range 8 {
		if err := <-done; err == nil {
			t.Error("a write on broken connections succeeded")
		} else if msg := err.Error(); !strings.Contains(msg, "bad connection") && !strings.Contains(msg, "store closed") {
			t.Errorf("a write: %v, want driver.ErrBadConn or store closed", err)
		}
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if got, want := f.closed.Load(), f.opened.Load(); got != want {
		t.Errorf("%d connections closed of %d opened", got, want)
	}
	if n := testfs.OpenFiles(t, path); n != 0 {
		t.Errorf("%d descriptors left on the database file after Close", n)
	}
}
