package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// midBreaking makes reader connections whose rows, once arm is set, fail at the second
// row: with driver.ErrBadConn, the reader marked broken (a reader that breaks in the
// middle of a read, after a row was handed to the read), or with fail when it is set,
// the connection left working.
func midBreaking(arm *atomic.Bool, fail error) *hookedConns {
	return &hookedConns{query: func(c *hookedConn, st driver.StmtQueryContext, ctx context.Context, nv []driver.NamedValue) (driver.Rows, error) {
		if c.broken.Load() {
			return nil, driver.ErrBadConn
		}
		rows, err := st.QueryContext(ctx, nv)
		if err != nil {
			return nil, err
		}
		return &midRows{Rows: rows, c: c, breaks: arm.CompareAndSwap(true, false), fail: fail}, nil
	}}
}

type midRows struct {
	driver.Rows
	c      *hookedConn
	breaks bool
	fail   error
	n      int
}

func (r *midRows) Next(dest []driver.Value) error {
	if r.n++; r.breaks && r.n == 2 {
		if r.fail != nil {
			return r.fail
		}
		r.c.broken.Store(true)
		return driver.ErrBadConn
	}
	return r.Rows.Next(dest)
}

// TestKeyedReadBreaksMidRead: a keyed listing whose reader breaks after it
// handed one row over (driver.ErrBadConn at the second) is answered whole from another
// reader: every factor once, none twice from the broken attempt; the broken reader is
// closed; a keyed read of one row on a reader that breaks so answers too.
func TestKeyedReadBreaksMidRead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	st := aliceFile(t, path, 2)
	now := time.UnixMilli(1_700_000_000_000)
	for i := 2; i <= 4; i++ {
		if err := st.CreateFactor(ctx, store.Factor{ID: fmt.Sprint("f", i), UserID: "u1", Type: "totp", State: store.FactorActive,
			Secret: []byte("s"), KeyID: "k", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var arm atomic.Bool
	mid := midBreaking(&arm, nil)
	s, r := hookedReaders(t, st, path, 2, 2, mid)
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	list := func() []string {
		fs, err := s.ListEnabledFactors(rctx, "alice")
		if err != nil {
			t.Fatalf("ListEnabledFactors: %v", err)
		}
		var ids []string
		for _, f := range fs {
			ids = append(ids, f.ID)
		}
		return ids
	}
	want := fmt.Sprint(list())
	if want != "[f1 f2 f3 f4]" {
		t.Fatalf("factors %s, want f1..f4", want)
	}
	arm.Store(true)
	if got := fmt.Sprint(list()); got != want {
		t.Errorf("a listing whose reader broke at its second row: %s, want %s", got, want)
	}
	if n := mid.closed.Load(); n != 1 {
		t.Errorf("%d readers closed, want the broken one", n)
	}
	if got := fmt.Sprint(list()); got != want {
		t.Errorf("the listing after: %s, want %s", got, want)
	}
	if st := r.Stats(); st.OpenConnections > 2 {
		t.Errorf("%d reader connections open, the pool's size 2", st.OpenConnections)
	}
}

// TestMemoryKeyedReadsBesideWrites: the in-memory store's one connection is
// the writer's and the readers': keyed reads (GetFactorAndUser, UserDisabled,
// ListEnabledFactors) under deadlines, some too short to wait for a batch, run while the
// group writer commits on it. Each read answers right, or with its deadline; each sees
// a state some commit left (the factors listed a prefix of those created, in order);
// writes all commit. Meant for -race: the driver connection is used by one at a time.
func TestMemoryKeyedReadsBesideWrites(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.UnixMilli(1_700_000_000_000)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f000", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("s"), KeyID: "k", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	const writes = 60
	var wg sync.WaitGroup
	errs := make(chan error, 128)
	var written atomic.Int32
	for w := range 2 {
		wg.Go(func() {
			for i := range writes / 2 {
				n := 1 + w*(writes/2) + i
				at := now.Add(time.Duration(n) * time.Second)
				if err := s.CreateFactor(ctx, store.Factor{ID: fmt.Sprintf("f%03d", n), UserID: "u1", Type: "totp",
					State: store.FactorActive, Secret: []byte("s"), KeyID: "k", CreatedAt: at, UpdatedAt: at}); err != nil {
					errs <- fmt.Errorf("write %d: %w", n, err)
					return
				}
				written.Add(1)
				if err := s.AppendAudit(store.DeferSync(ctx), store.AuditEvent{Time: at, RequestID: fmt.Sprint("m-", n)}); err != nil {
					errs <- fmt.Errorf("audit %d: %w", n, err)
					return
				}
			}
		})
	}
	for g := range 4 {
		wg.Go(func() {
			for i := range 60 {
				d := time.Minute
				if i%5 == 0 {
					d = time.Microsecond
				}
				rctx, cancel := context.WithTimeout(ctx, d)
				var err error
				switch (g + i) % 3 {
				case 0:
					var f store.Factor
					var u store.User
					if f, u, err = s.GetFactorAndUser(rctx, "f000", "alice"); err == nil && (u.ID != "u1" || f.ID != "f000") {
						err = fmt.Errorf("GetFactorAndUser: %s %s", f.ID, u.ID)
					}
				case 1:
					var off bool
					if off, err = s.UserDisabled(rctx, "alice"); err == nil && off {
						err = errors.New("UserDisabled: alice disabled")
					}
				case 2:
					low := int(written.Load())
					var fs []store.Factor
					if fs, err = s.ListEnabledFactors(rctx, "alice"); err == nil {
						seen := map[string]bool{}
						for _, f := range fs {
							if seen[f.ID] {
								err = fmt.Errorf("ListEnabledFactors: %s twice", f.ID)
							}
							seen[f.ID] = true
						}
						if len(fs) < 1+low {
							err = fmt.Errorf("ListEnabledFactors: %d factors, %d committed before the read", len(fs), 1+low)
						}
					}
				}
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	fs, err := s.ListEnabledFactors(ctx, "alice")
	if err != nil || len(fs) != 1+writes {
		t.Errorf("after: %d factors, %v; want %d", len(fs), err, 1+writes)
	}
}

// TestKeyedReadCancelledOnceTaken: a keyed read whose context is cancelled
// once the pool has handed it the reader, before it runs there, runs to its answer (it
// holds the reader; its statements run without the context's cancellation), and the
// reader is not interrupted: nothing closes it, the next read on it answers. With the
// caller's context handed to the driver, modernc.org/sqlite would interrupt the
// statement, and database/sql drop the reader as invalid.
func TestKeyedReadCancelledOnceTaken(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	st := aliceFile(t, path, 1)
	// Readers that run hook when database/sql hands one out again (ResetSession): after
	// the pool gave the reader to a read, before the read runs on it.
	var hooked atomic.Pointer[func()]
	rc := &hookedConns{reset: func() {
		if h := hooked.Swap(nil); h != nil {
			(*h)()
		}
	}}
	s, _ := hookedReaders(t, st, path, 1, 1, rc)
	for name, read := range map[string]func(ctx context.Context) error{
		"GetFactorAndUser": func(ctx context.Context) error {
			f, u, err := s.GetFactorAndUser(ctx, "f1", "alice")
			if err == nil && (u.ID != "u1" || f.ID != "f1") {
				t.Errorf("GetFactorAndUser: %s %s, want f1 u1", f.ID, u.ID)
			}
			return err
		},
		"UserDisabled": func(ctx context.Context) error { _, err := s.UserDisabled(ctx, "alice"); return err },
		"ListEnabledFactors": func(ctx context.Context) error {
			fs, err := s.ListEnabledFactors(ctx, "alice")
			if err == nil && len(fs) != 1 {
				t.Errorf("ListEnabledFactors: %d factors, want 1", len(fs))
			}
			return err
		},
	} {
		if err := read(ctx); err != nil { // its statement prepared on the reader
			t.Fatalf("%s: %v", name, err)
		}
		rctx, cancel := context.WithCancel(ctx)
		hook := func() { cancel() }
		hooked.Store(&hook)
		err := read(rctx)
		if hooked.Load() != nil {
			t.Fatalf("%s: the reader was not handed out again", name)
		}
		if err != nil {
			t.Errorf("%s cancelled once it held the reader: %v, want its answer", name, err)
		}
		if err := read(ctx); err != nil {
			t.Errorf("%s after: %v", name, err)
		}
		if n := rc.closed.Load(); n != 0 {
			t.Errorf("%s: %d readers closed, want none", name, n)
		}
	}
}

// TestKeyedReadStatementsPerReader counts the statements themselves: with each
// reader closed as it is given back, 200 keyed reads open 200 readers, and once each
// closes no statement prepared on it is left open (every one finalized before its
// connection); with readers kept, each keeps its three, and closing the pool finalizes
// them all.
func TestKeyedReadStatementsPerReader(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	st := aliceFile(t, path, 1)
	sc := &hookedConns{stmts: new(atomic.Int32)}
	s, r := hookedReaders(t, st, path, 2, 0, sc) // each reader closed as it is given back
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	read := func(i int) {
		var err error
		switch i % 3 {
		case 0:
			_, _, err = s.GetFactorAndUser(rctx, "f1", "alice")
		case 1:
			_, err = s.UserDisabled(rctx, "alice")
		case 2:
			_, err = s.ListEnabledFactors(rctx, "alice")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		read(i)
		if n := sc.stmts.Load(); n != 0 {
			t.Fatalf("after read %d: %d statements open on readers closed (%d opened, %d closed)", i, n, sc.opened.Load(), sc.closed.Load())
		}
	}
	if o, cl := sc.opened.Load(), sc.closed.Load(); o != 200 || cl != 200 {
		t.Errorf("%d readers opened, %d closed, want 200 each", o, cl)
	}
	r.SetMaxIdleConns(2)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := range 30 {
				read(g + i)
			}
		})
	}
	wg.Wait()
	if n, open := sc.stmts.Load(), sc.opened.Load()-sc.closed.Load(); n > 3*open {
		t.Errorf("%d statements open on %d readers, want at most 3 each", n, open)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := sc.stmts.Load(); n != 0 {
		t.Errorf("%d statements open after the readers' pool closed", n)
	}
}

// TestKeyedReadFailsMidRead: a keyed listing whose row fails with an error of
// the database (not a broken connection) after one row was handed over fails with it,
// and leaves the reader and its statement ready: nothing closed, the next listing on
// the same reader answers whole.
func TestKeyedReadFailsMidRead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	st := aliceFile(t, path, 1)
	now := time.UnixMilli(1_700_000_000_000)
	if err := st.CreateFactor(ctx, store.Factor{ID: "f2", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("s"), KeyID: "k", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected: disk I/O error")
	var arm atomic.Bool
	mid := midBreaking(&arm, injected)
	s, _ := hookedReaders(t, st, path, 1, 1, mid)
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if fs, err := s.ListEnabledFactors(rctx, "alice"); err != nil || len(fs) != 2 {
		t.Fatalf("ListEnabledFactors: %d, %v", len(fs), err)
	}
	arm.Store(true)
	if fs, err := s.ListEnabledFactors(rctx, "alice"); !errors.Is(err, injected) {
		t.Errorf("a listing whose second row failed: %d factors, %v; want the error", len(fs), err)
	}
	for range 3 {
		if fs, err := s.ListEnabledFactors(rctx, "alice"); err != nil || len(fs) != 2 {
			t.Errorf("the listing after: %d factors, %v; want 2", len(fs), err)
		}
		if _, u, err := s.GetFactorAndUser(rctx, "f1", "alice"); err != nil || u.ID != "u1" {
			t.Errorf("GetFactorAndUser after: %v %v", u.ID, err)
		}
	}
	if n := mid.closed.Load(); n != 0 {
		t.Errorf("%d readers closed, want none", n)
	}
}
