package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestKeyedReadBrokenReader: a keyed read that finds its reader connection
// broken (driver.ErrBadConn) drops it, its statements with it, and answers from another
// reader, as database/sql does for a query on its pool.
func TestKeyedReadBrokenReader(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	st := aliceFile(t, path, 2)
	// The file store's writer, and readers of which the next to run a query (once
	// breakNext is set) is broken from then on: each query on it fails with
	// driver.ErrBadConn.
	var breakNext atomic.Bool
	flaky := &hookedConns{query: func(c *hookedConn, st driver.StmtQueryContext, ctx context.Context, nv []driver.NamedValue) (driver.Rows, error) {
		if breakNext.CompareAndSwap(true, false) {
			c.broken.Store(true)
		}
		if c.broken.Load() {
			return nil, driver.ErrBadConn
		}
		return st.QueryContext(ctx, nv)
	}}
	s, r := hookedReaders(t, st, path, 2, 2, flaky)
	rctx, cancel := context.WithTimeout(ctx, time.Minute) // a request's: it can end
	defer cancel()
	for name, read := range map[string]func() error{
		"GetFactorAndUser": func() error {
			_, u, err := s.GetFactorAndUser(rctx, "f1", "alice")
			if err == nil && u.ID != "u1" {
				t.Errorf("GetFactorAndUser: user %+v, want u1", u)
			}
			return err
		},
		"UserDisabled": func() error { _, err := s.UserDisabled(rctx, "alice"); return err },
		"ListEnabledFactors": func() error {
			fs, err := s.ListEnabledFactors(rctx, "alice")
			if err == nil && len(fs) != 1 {
				t.Errorf("ListEnabledFactors: %d factors, want 1", len(fs))
			}
			return err
		},
	} {
		if err := read(); err != nil { // the statements prepared on a reader
			t.Fatalf("%s: %v", name, err)
		}
		closed := flaky.closed.Load()
		breakNext.Store(true)
		if err := read(); err != nil {
			t.Errorf("%s on a broken reader: %v, want it answered from another", name, err)
		}
		if n := flaky.closed.Load() - closed; n != 1 {
			t.Errorf("%s on a broken reader: %d readers closed, want the broken one", name, n)
		}
		if err := read(); err != nil {
			t.Errorf("%s after: %v", name, err)
		}
		if st := r.Stats(); st.OpenConnections > 2 {
			t.Errorf("%d reader connections open, the pool's size 2", st.OpenConnections)
		}
	}
}

// TestKeyedReadPlainReaders: on reader connections that do not say when they
// close (sqlstore.ClosingConn), whose statements nothing would finalize, the keyed reads
// run as text through database/sql on the reader they took, and still answer by their
// deadline when no reader frees.
func TestKeyedReadPlainReaders(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	st := aliceFile(t, path, 1)
	r, err := sql.Open("sqlite", uri(path)+"?"+withPragmas(url.Values{}, map[string]string{"query_only": "1"}).Encode())
	if err != nil {
		t.Fatal(err)
	}
	r.SetMaxOpenConns(1)
	defer r.Close()
	s := sqlstore.New(st.w, r, dialect{}, sqlstore.PrepareStatements(), sqlstore.AnonymousParams(), sqlstore.DetachedKeyedReads())
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, u, err := s.GetFactorAndUser(rctx, "f1", "alice"); err != nil || u.ID != "u1" {
		t.Errorf("GetFactorAndUser: %+v, %v", u, err)
	}
	if off, err := s.UserDisabled(rctx, "alice"); err != nil || off {
		t.Errorf("UserDisabled: %v, %v", off, err)
	}
	if fs, err := s.ListEnabledFactors(rctx, "alice"); err != nil || len(fs) != 1 {
		t.Errorf("ListEnabledFactors: %v, %v", fs, err)
	}
	if _, err := s.GetFactor(rctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetFactor of no factor: %v, want store.ErrNotFound", err)
	}
	held, err := r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	dctx, dcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer dcancel()
	if _, err := s.UserDisabled(dctx, "alice"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("UserDisabled, its one reader held: %v, want context.DeadlineExceeded", err)
	}
}
