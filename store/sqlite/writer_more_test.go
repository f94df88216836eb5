package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/emfa/emfa/internal/testfs"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// connFaults is what the writer's connections of openFaulty's store are made to do wrong,
// and what they saw. Each count is how many more times the fault happens.
type connFaults struct {
	beginBad     atomic.Int32 // BEGIN fails with driver.ErrBadConn, having done nothing
	deferBad     atomic.Int32 // "PRAGMA synchronous = NORMAL" fails with driver.ErrBadConn
	resetFail    atomic.Int32 // "PRAGMA synchronous = FULL" fails, having done nothing
	commitBad    atomic.Int32 // COMMIT fails with driver.ErrBadConn, the transaction rolled back
	rollbackFail atomic.Int32 // ROLLBACK fails, the transaction left open
	// rollbackStmtFail: a ROLLBACK statement (the one the writer runs before a batch on a
	// connection left unsure) fails, doing nothing.
	rollbackStmtFail atomic.Int32
	// auditBad, once armed, fails the next run of a statement inserting an audit row with
	// driver.ErrBadConn, after the unit's earlier statements ran.
	auditBad atomic.Bool
	// commitErr fails the COMMIT numbered failCommit (commits counts them), rolled back.
	commitErr           atomic.Pointer[error]
	commits, failCommit atomic.Int32
	commitLeavesOpen    atomic.Bool // the COMMIT that fails leaves its transaction open

	opened, closed atomic.Int32
	rollbackErrs   atomic.Int32 // ROLLBACKs that failed of themselves
	// rollbacks counts the ROLLBACKs the writer ran, prepared or as text, and idle those
	// of them that SQLite refused for finding no transaction open.
	rollbacks, idle atomic.Int32
	begins          atomic.Int32
	// misused: a statement ran on a connection already closed, or prepared on another.
	misused atomic.Int32
}

// faultConnector makes the writer's connections faultConns.
type faultConnector struct {
	driver.Connector
	f *connFaults
}

func (c faultConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c.f.opened.Add(1)
	return &faultConn{closing: conn.(*closing), f: c.f}, nil
}

type faultConn struct {
	*closing
	f    *connFaults
	gone atomic.Bool
}

func (c *faultConn) Close() error {
	err := c.closing.Close()
	c.gone.Store(true)
	c.f.closed.Add(1)
	return err
}

// take reports whether one more of the faults n counts happens now.
func take(n *atomic.Int32) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

func (c *faultConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	switch {
	case q == "PRAGMA synchronous = NORMAL" && take(&c.f.deferBad):
		return nil, driver.ErrBadConn
	case q == "PRAGMA synchronous = FULL" && take(&c.f.resetFail):
		return nil, errors.New("injected: the reset of synchronous failed")
	case q == "ROLLBACK":
		c.f.rollbacks.Add(1)
		if take(&c.f.rollbackStmtFail) {
			return nil, errors.New("injected: the ROLLBACK statement failed")
		}
		res, err := c.closing.ExecContext(ctx, q, args)
		c.f.noteIdle(err)
		return res, err
	}
	return c.closing.ExecContext(ctx, q, args)
}

// noteIdle counts a ROLLBACK that found no transaction open.
func (f *connFaults) noteIdle(err error) {
	if err != nil && strings.Contains(err.Error(), "no transaction is active") {
		f.idle.Add(1)
	}
}

func (c *faultConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.closing.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &faultStmt{Stmt: st, c: c, q: q, audit: strings.Contains(q, "INSERT INTO audit")}, nil
}

// faultStmt is a statement of a faultConn, which notes a run after its connection closed.
// The writer's BEGIN, COMMIT and ROLLBACK are statements it prepared (sqlstore.BeginWith):
// theirs are the faults of a transaction.
type faultStmt struct {
	driver.Stmt
	c     *faultConn
	q     string
	audit bool // it inserts an audit row (connFaults.auditBad)
}

func (s *faultStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.audit && s.c.f.auditBad.CompareAndSwap(true, false) {
		return nil, driver.ErrBadConn
	}
	if s.c.gone.Load() {
		s.c.f.misused.Add(1)
	}
	f := s.c.f
	switch s.q {
	case "BEGIN IMMEDIATE":
		f.begins.Add(1)
		if take(&f.beginBad) {
			return nil, driver.ErrBadConn
		}
	case "COMMIT":
		if take(&f.commitBad) {
			_, _ = s.c.closing.ExecContext(ctx, "ROLLBACK", nil)
			return nil, driver.ErrBadConn
		}
		if n := f.commits.Add(1); n == f.failCommit.Load() {
			if !f.commitLeavesOpen.Load() {
				// As SQLite leaves a COMMIT that failed with SQLITE_FULL: rolled back.
				_, _ = s.c.closing.ExecContext(ctx, "ROLLBACK", nil)
			}
			return nil, *f.commitErr.Load()
		}
	case "ROLLBACK":
		f.rollbacks.Add(1)
		if take(&f.rollbackFail) {
			return nil, errors.New("injected: ROLLBACK failed")
		}
		res, err := s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
		if err != nil {
			f.rollbackErrs.Add(1)
		}
		f.noteIdle(err)
		return res, err
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *faultStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.c.gone.Load() {
		s.c.f.misused.Add(1)
	}
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// openFaulty opens a store on a database file as Open does, its writer's connections
// faultConns, and with deferred sync but no checkpointer (nothing else uses the writer).
// more adds options (an AfterCommit hook).
func openFaulty(t *testing.T, more ...sqlstore.Option) (*Store, *connFaults, string) {
	t.Helper()
	f := &connFaults{}
	s, path := openWrapped(t, func(c driver.Connector) driver.Connector { return faultConnector{Connector: c, f: f} }, more...)
	return s, f, path
}

// openWrapped opens a store created and migrated at a fresh path, its writer's connector
// wrapped by wrap, and its deferred batches committed with synchronous=NORMAL; more adds
// options.
func openWrapped(t *testing.T, wrap func(driver.Connector) driver.Connector, more ...sqlstore.Option) (*Store, string) {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "emfa.db")
	s0, err := Open(ctx, path) // created and migrated
	if err != nil {
		t.Fatal(err)
	}
	if err := s0.Close(); err != nil {
		t.Fatal(err)
	}
	wq := withPragmas(nil, map[string]string{
		"busy_timeout": "5000", "foreign_keys": "1", "synchronous": "FULL", "temp_store": "MEMORY", "journal_mode": "WAL",
	})
	wq.Set("_txlock", "immediate")
	c, err := sqlite.NewConnector(uri(path) + "?" + wq.Encode())
	if err != nil {
		t.Fatal(err)
	}
	file := &fileIdentity{path: path}
	if file.opened, err = os.Stat(path); err != nil {
		t.Fatal(err)
	}
	w := sql.OpenDB(wrap(guarded{Connector: c, file: file}))
	keepOne(w)
	rq := withPragmas(nil, map[string]string{"busy_timeout": "5000", "foreign_keys": "1", "query_only": "1"})
	r, err := sql.Open("sqlite", uri(path)+"?"+rq.Encode())
	if err != nil {
		t.Fatal(err)
	}
	r.SetMaxOpenConns(1)
	s := newStore(w, r, nil, file, append([]sqlstore.Option{sqlstore.DeferredSync("FULL", "NORMAL")}, more...)...)
	t.Cleanup(func() { s.Close() })
	return s, path
}

var reviewAt = time.UnixMilli(1_700_000_000_000)

// users counts the users whose id begins with prefix, through the read pool.
func users(t *testing.T, s *Store, prefix string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM users WHERE id LIKE ?`, prefix+"%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// audits counts the audit rows whose request id begins with prefix, through the read pool.
// noStrayConns fails t when a statement ran on a connection already closed, or when the
// file has other than fds descriptors open: a connection the writer discarded and did not
// close, or closed twice.
func noStrayConns(t *testing.T, f *connFaults, path string, fds int) {
	t.Helper()
	if n := f.misused.Load(); n != 0 {
		t.Errorf("%d statements ran on a connection closed", n)
	}
	if got := testfs.OpenFiles(t, path); got != fds {
		t.Errorf("%d descriptors on the file, %d before", got, fds)
	}
}

func audits(t *testing.T, s *Store, prefix string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM audit WHERE request_id LIKE ?`, prefix+"%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func createUser(s *Store, ctx context.Context, id string) error {
	return s.CreateUser(ctx, store.User{ID: id, Name: "name-" + id, CreatedAt: reviewAt})
}

// TestBadConnBeforeBatch: a writer's connection found broken (driver.ErrBadConn)
// by the BEGIN of a batch, or by the PRAGMA that defers its sync before it, has run
// nothing of the batch: the batch runs on a fresh connection, as database/sql runs a
// BeginTx that meets a broken one, instead of failing every caller. The broken one is
// closed with its statements (no descriptor left on the file), and no statement
// prepared on it runs on another.
func TestBadConnBeforeBatch(t *testing.T) {
	for _, tt := range []struct {
		name     string
		deferred bool
		fault    func(f *connFaults) *atomic.Int32
	}{
		{"BEGIN", false, func(f *connFaults) *atomic.Int32 { return &f.beginBad }},
		{"PRAGMA synchronous", true, func(f *connFaults) *atomic.Int32 { return &f.deferBad }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, f, path := openFaulty(t)
			ctx := context.Background()
			if tt.deferred {
				ctx = store.DeferSync(ctx)
			}
			// The first batch prepares the writer's statements on its connection.
			if err := createUser(s, ctx, "a1"); err != nil {
				t.Fatal(err)
			}
			users(t, s, "a") // the reader opened
			fds, opened := testfs.OpenFiles(t, path), f.opened.Load()
			tt.fault(f).Store(1)
			if err := createUser(s, ctx, "a2"); err != nil {
				t.Errorf("a batch whose connection was found broken before it ran: %v", err)
			}
			if err := createUser(s, ctx, "a3"); err != nil {
				t.Errorf("the batch after: %v", err)
			}
			if n := users(t, s, "a"); n != 3 {
				t.Errorf("%d users a*, want 3", n)
			}
			if got := f.opened.Load() - opened; got != 1 {
				t.Errorf("%d connections opened, want 1", got)
			}
			if got := f.closed.Load(); got != 1 {
				t.Errorf("%d connections closed, want the broken one", got)
			}
			if n := f.misused.Load(); n != 0 {
				t.Errorf("%d statements ran on a connection closed", n)
			}
			if got := testfs.OpenFiles(t, path); got != fds {
				t.Errorf("%d descriptors on the file, %d before: the broken connection was not closed", got, fds)
			}
		})
	}
}

// TestBadConnBounded: a writer whose every connection is found broken at BEGIN
// tries a bounded number of them, as database/sql does (three), closes each, and fails
// the batch; the next batch, once connections work, succeeds.
func TestBadConnBounded(t *testing.T) {
	s, f, path := openFaulty(t)
	ctx := context.Background()
	if err := createUser(s, ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	users(t, s, "b")
	fds, opened := testfs.OpenFiles(t, path), f.opened.Load()
	f.beginBad.Store(1000)
	err := createUser(s, ctx, "b2")
	if !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("a batch on connections all broken: %v, want driver.ErrBadConn", err)
	}
	left := f.beginBad.Swap(0)
	if tries := 1000 - left; tries != 3 {
		t.Errorf("%d BEGINs tried, want 3", tries)
	}
	if got, want := f.closed.Load(), f.opened.Load(); got != want {
		t.Errorf("%d connections closed of %d opened, each found broken", got, want)
	}
	if err := createUser(s, ctx, "b3"); err != nil {
		t.Errorf("the batch after: %v", err)
	}
	if n := users(t, s, "b"); n != 2 {
		t.Errorf("%d users b*, want 2", n)
	}
	if n := f.misused.Load(); n != 0 {
		t.Errorf("%d statements ran on a connection closed", n)
	}
	if got := testfs.OpenFiles(t, path); got != fds {
		t.Errorf("%d descriptors on the file, %d before (%d connections opened since)", got, fds, f.opened.Load()-opened)
	}
}

// TestBadConnAfterRun: a connection found broken once a unit's statement has run
// (at COMMIT) fails the batch, and no unit runs twice: what it ran may have been seen.
func TestBadConnAfterRun(t *testing.T) {
	s, f, _ := openFaulty(t)
	ctx := context.Background()
	if err := createUser(s, ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	f.commitBad.Store(1)
	runs := 0
	err := s.Update(ctx, func(w store.Writer) error {
		runs++
		return w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "c2"})
	})
	if err == nil {
		t.Error("a batch whose COMMIT found the connection broken succeeded")
	}
	if runs != 1 {
		t.Errorf("the unit ran %d times, want once", runs)
	}
	if n := audits(t, s, "c"); n != 0 {
		t.Errorf("%d audit rows c*, want none", n)
	}
	if err := createUser(s, ctx, "c3"); err != nil {
		t.Errorf("the batch after: %v", err)
	}
	if n := f.misused.Load(); n != 0 {
		t.Errorf("%d statements ran on a connection closed", n)
	}
}

// TestRollbackFails: a ROLLBACK that fails may leave the writer's connection
// inside the transaction, and then every later BEGIN on it fails ("cannot start a
// transaction within a transaction"): the writer would refuse every write until the
// process restarts. The connection whose ROLLBACK failed is discarded; the next batch
// runs on a fresh one.
func TestRollbackFails(t *testing.T) {
	for _, tt := range []struct {
		name string
		fn   func(ctx context.Context) func(w store.Writer) error
	}{
		{"a unit alone fails", func(ctx context.Context) func(w store.Writer) error {
			return func(w store.Writer) error {
				if err := w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "d-failed"}); err != nil {
					return err
				}
				return errors.New("the unit's own failure")
			}
		}},
		{"a unit alone panics", func(ctx context.Context) func(w store.Writer) error {
			return func(w store.Writer) error {
				if err := w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "d-failed"}); err != nil {
					return err
				}
				panic("the unit's own panic")
			}
		}},
	} {
		for _, deferred := range []bool{false, true} {
			t.Run(fmt.Sprint(tt.name, "/deferred=", deferred), func(t *testing.T) {
				testRollbackFails(t, tt.fn, deferred)
			})
		}
	}
}

func testRollbackFails(t *testing.T, fn func(ctx context.Context) func(w store.Writer) error, deferred bool) {
	s, f, _ := openFaulty(t)
	ctx := context.Background()
	if deferred {
		// SQLite refuses to change synchronous inside a transaction: the PRAGMA before
		// BEGIN is what fails on the connection left in one.
		ctx = store.DeferSync(ctx)
	}
	if err := createUser(s, ctx, "d1"); err != nil {
		t.Fatal(err)
	}
	f.rollbackFail.Store(1)
	func() {
		defer func() { _ = recover() }() // the unit's own panic, re-raised to its caller
		if err := s.Update(ctx, fn(ctx)); err == nil {
			t.Fatal("a failing unit succeeded")
		}
	}()
	for i := range 3 {
		if err := createUser(s, ctx, fmt.Sprint("d", i+2)); err != nil {
			t.Errorf("write %d after a failed ROLLBACK: %v", i+1, err)
		}
	}
	if n := users(t, s, "d"); n != 4 {
		t.Errorf("%d users d*, want 4", n)
	}
	if n := audits(t, s, "d-failed"); n != 0 {
		t.Errorf("%d audit rows of the failed unit, want none", n)
	}
	if n := f.misused.Load(); n != 0 {
		t.Errorf("%d statements ran on a connection closed", n)
	}
}

// TestFullKeepsConnection: a unit that fills the database (SQLITE_FULL, here from
// max_page_count) has its transaction rolled back by SQLite itself, and the writer's
// ROLLBACK then fails ("no transaction is active"): that is no reason to discard the
// connection, which is kept, and takes the next write once there is room.
func TestFullKeepsConnection(t *testing.T) {
	s, f, _ := openFaulty(t)
	ctx := context.Background()
	if err := createUser(s, ctx, "e1"); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(fmt.Sprint("PRAGMA max_page_count = ", pages+2)); err != nil {
		t.Fatal(err)
	}
	err := s.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "e-big", Reason: strings.Repeat("x", 64<<10)})
	if err == nil || !(dialect{}).StorageFault(err) {
		t.Fatalf("a write past max_page_count: %v, want SQLITE_FULL", err)
	}
	if _, err := s.w.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := createUser(s, ctx, "e2"); err != nil {
		t.Errorf("the write after: %v", err)
	}
	if f.rollbackErrs.Load() == 0 {
		t.Error("no ROLLBACK failed: SQLite did not roll the transaction back itself")
	}
	if n := f.closed.Load(); n != 0 {
		t.Errorf("%d connections closed after a full database, want none", n)
	}
	if n := users(t, s, "e"); n != 2 {
		t.Errorf("%d users e*, want 2", n)
	}
}

// queued is a unit for queueBehind: fn run by Update with ctx.
type queued struct {
	ctx context.Context
	fn  func(w store.Writer) error
}

// queueBehind runs a unit that holds the writer, and while it does, each of us as a unit
// of its own goroutine, so that they queue and commit together after it (as one batch,
// or more: no assertion may rest on how they are batched). during, if set, runs while
// they queue. It returns each one's error and the panic its caller saw.
func queueBehind(t *testing.T, s *Store, during func(), us ...queued) (errs []error, panics []any) {
	t.Helper()
	hold, in := make(chan struct{}), make(chan struct{})
	gate := make(chan error, 1)
	go func() {
		gate <- s.Update(context.Background(), func(w store.Writer) error {
			close(in)
			<-hold
			return nil
		})
	}()
	testwait.Recv(t, "the unit to hold the writer", in)
	errs, panics = make([]error, len(us)), make([]any, len(us))
	var wg sync.WaitGroup
	for i, u := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = s.Update(u.ctx, u.fn)
		}()
	}
	time.Sleep(50 * time.Millisecond) // how they batch depends on it, nothing else
	if during != nil {
		during()
	}
	close(hold)
	wg.Wait()
	if err := testwait.Recv(t, "the unit holding the writer to end", gate); err != nil {
		t.Errorf("the unit holding the writer: %v", err)
	}
	return errs, panics
}

// audit is a unit that writes one audit row of request id id.
func audit(ctx context.Context, id string) func(w store.Writer) error {
	return func(w store.Writer) error {
		return w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: id})
	}
}

// told checks that each unit's caller was told the truth: no error, and its row (audit
// request id prefix+i) is there; an error, and it is not.
func told(t *testing.T, s *Store, prefix string, errs []error) (failed int) {
	t.Helper()
	for i, err := range errs {
		n := audits(t, s, fmt.Sprint(prefix, i))
		switch {
		case err == nil && n != 1:
			t.Errorf("unit %d was told it committed, and %d rows of it are there", i, n)
		case err != nil && n != 0:
			t.Errorf("unit %d was told %v, and %d rows of it are there", i, err, n)
		case err != nil:
			failed++
		}
	}
	return failed
}

// TestCommitFails: a batch whose COMMIT fails (SQLITE_BUSY, SQLITE_FULL; rolled
// back, as modernc.org/sqlite leaves a COMMIT that failed) tells each of its units, none
// is half applied, and the next batch commits on the same connection. SQLite itself
// leaves the transaction open after a COMMIT that failed with SQLITE_BUSY: were the
// driver not to roll it back, the connection would refuse every later BEGIN, and the
// next batch must commit on a fresh one.
func TestCommitFails(t *testing.T) {
	for _, tt := range []struct {
		cerr     error
		leftOpen bool
	}{
		{errors.New("injected: database is locked (5) (SQLITE_BUSY)"), false},
		{errors.New("injected: database or disk is full (13) (SQLITE_FULL)"), false},
		{errors.New("injected: database is locked (5) (SQLITE_BUSY), left open"), true},
	} {
		cerr := tt.cerr
		t.Run(cerr.Error(), func(t *testing.T) {
			s, f, _ := openFaulty(t)
			f.commitLeavesOpen.Store(tt.leftOpen)
			ctx := context.Background()
			if err := createUser(s, ctx, "g"); err != nil {
				t.Fatal(err)
			}
			f.commitErr.Store(&cerr)
			f.failCommit.Store(f.commits.Load() + 2) // the batch after the one holding the writer
			var us []queued
			for i := range 6 {
				us = append(us, queued{ctx, audit(ctx, fmt.Sprint("g-", i, "."))})
			}
			errs, _ := queueBehind(t, s, nil, us...)
			failed := told(t, s, "g-", errs)
			if failed == 0 {
				t.Error("no unit failed: the COMMIT failing was not reached")
			}
			t.Logf("%d of %d units failed", failed, len(errs))
			for _, err := range errs {
				if err != nil && !strings.Contains(err.Error(), cerr.Error()) {
					t.Errorf("a unit was told %v, want the COMMIT's error", err)
				}
			}
			for i := range 3 {
				if err := s.Update(ctx, audit(ctx, fmt.Sprint("g-after-", i))); err != nil {
					t.Errorf("batch %d after: %v", i+1, err)
				}
			}
			// Left in the transaction or not, the connection is kept: the transaction
			// left open is rolled back before the next batch begins on it.
			if n := f.closed.Load(); n != 0 {
				t.Errorf("%d connections closed, want 0", n)
			}
		})
	}
}

// TestPanicInBatch: a unit that panics in a batch rolls back alone; its own caller
// sees its panic, no other caller does, the others commit, and the connection is left in
// no transaction (the next write works on it).
func TestPanicInBatch(t *testing.T) {
	s, f, _ := openFaulty(t)
	ctx := context.Background()
	var us []queued
	for i := range 5 {
		fn := audit(ctx, fmt.Sprint("p-", i, "."))
		if i == 2 {
			fn = func(w store.Writer) error {
				if err := audit(ctx, "p-2.")(w); err != nil {
					return err
				}
				panic("unit 2's panic")
			}
		}
		us = append(us, queued{ctx, fn})
	}
	errs, panics := queueBehind(t, s, nil, us...)
	for i, p := range panics {
		if (p != nil) != (i == 2) {
			t.Errorf("unit %d's caller saw panic %v", i, p)
		}
	}
	if n := audits(t, s, "p-2."); n != 0 {
		t.Errorf("%d rows of the unit that panicked", n)
	}
	errs[2] = errors.New("panicked")
	if failed := told(t, s, "p-", errs); failed != 1 {
		t.Errorf("%d units failed, want the one that panicked", failed)
	}
	if err := s.Update(ctx, audit(ctx, "p-after")); err != nil {
		t.Errorf("the write after: %v", err)
	}
	if n := f.closed.Load(); n != 0 {
		t.Errorf("%d connections closed", n)
	}
}

// TestContextEnds: a unit whose context ends while it waits in the queue fails and
// writes nothing, whether or not the writer had taken it; one whose context ends while it
// runs is not interrupted (its batch's other units would be), and is told that it
// committed; the others commit.
func TestContextEnds(t *testing.T) {
	s, _, _ := openFaulty(t)
	ctx := context.Background()
	waiting, cancelWaiting := context.WithCancel(ctx)
	running, cancelRunning := context.WithCancel(ctx)
	us := []queued{
		{ctx, audit(ctx, "x-0.")},
		{waiting, audit(waiting, "x-1.")},
		{running, func(w store.Writer) error {
			cancelRunning()
			return audit(running, "x-2.")(w)
		}},
		{ctx, audit(ctx, "x-3.")},
	}
	errs, _ := queueBehind(t, s, cancelWaiting, us...)
	if !errors.Is(errs[1], context.Canceled) {
		t.Errorf("the unit whose context ended in the queue: %v, want context.Canceled", errs[1])
	}
	if failed := told(t, s, "x-", errs); failed != 1 {
		t.Errorf("%d units failed, want 1", failed)
	}
}

// TestCloseWhileBatchRuns: Close while a batch runs waits for it; each unit queued
// meanwhile is told the truth (committed, or refused for the close), Close returns, and
// no descriptor is left on the database file.
func TestCloseWhileBatchRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var us []queued
	for i := range 4 {
		us = append(us, queued{ctx, audit(ctx, fmt.Sprint("z-", i, "."))})
	}
	closed := make(chan error, 1)
	errs, _ := queueBehind(t, s, func() {
		go func() { closed <- s.Close() }()
		time.Sleep(20 * time.Millisecond)
	}, us...)
	if err := testwait.Recv(t, "Close to end", closed); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := testfs.OpenFiles(t, path); n != 0 {
		t.Errorf("%d descriptors left on the database file after Close", n)
	}
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	failed := told(t, s, "z-", errs)
	t.Logf("%d of %d queued units refused", failed, len(errs))
	for _, err := range errs {
		if err != nil && !strings.Contains(err.Error(), "store closed") {
			t.Errorf("a queued unit: %v, want store closed", err)
		}
	}
}

// TestSyncResetFails: when the PRAGMA that puts synchronous back to FULL after a
// deferred batch fails, the connection would go on committing without fsync: it is
// discarded, the deferred batch (committed) is answered, and the next batch runs on a
// fresh connection at the DSN's synchronous=FULL.
func TestSyncResetFails(t *testing.T) {
	s, f, _ := openFaulty(t)
	ctx := context.Background()
	dctx := store.DeferSync(ctx)
	if err := s.Update(dctx, audit(dctx, "s-0")); err != nil {
		t.Fatal(err)
	}
	f.resetFail.Store(1)
	if err := s.Update(dctx, audit(dctx, "s-1")); err != nil {
		t.Errorf("the deferred batch whose reset failed: %v", err)
	}
	if n := f.closed.Load(); n != 1 {
		t.Errorf("%d connections closed, want the one left at NORMAL", n)
	}
	var sync int
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 2 {
		t.Errorf("the writer's next connection: synchronous %d, want 2 (FULL)", sync)
	}
	if err := s.Update(ctx, audit(ctx, "s-2")); err != nil {
		t.Errorf("the batch after: %v", err)
	}
	if n := audits(t, s, "s-"); n != 3 {
		t.Errorf("%d audit rows s-*, want 3", n)
	}
	if n := f.misused.Load(); n != 0 {
		t.Errorf("%d statements ran on a connection closed", n)
	}
}

// TestDiskFullAtCommit: on a file system that is full to the last byte, a batch
// whose statements fit in SQLite's page cache fails at COMMIT, when its frames go to the
// log (SQLITE_FULL): each unit is told, none is applied, and once there is room again the
// next batch commits. Mounting the file system needs root: without it, the test skips.
func TestDiskFullAtCommit(t *testing.T) {
	dir := testfs.Tmpfs(t)
	path := filepath.Join(dir, "emfa.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() // before the unmount
	ctx := context.Background()
	if err := s.Update(ctx, audit(ctx, "seed")); err != nil {
		t.Fatal(err)
	}
	// The log emptied, so that the batch's frames must grow it.
	if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	fl, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for block := make([]byte, 4096); ; {
		if _, err := fl.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			break
		}
	}
	for _, n := range []int{512, 1} { // the last bytes too
		for block := make([]byte, n); ; {
			if _, err := fl.Write(block); err != nil {
				break
			}
		}
	}
	fl.Close()
	var us []queued
	for i := range 6 {
		us = append(us, queued{ctx, audit(ctx, fmt.Sprint("full-", i, "."))})
	}
	errs, _ := queueBehind(t, s, nil, us...)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	failed := told(t, s, "full-", errs)
	t.Logf("%d of %d units failed: %v", failed, len(errs), errs[0])
	if failed != len(errs) {
		t.Errorf("%d of %d units failed on a full disk", failed, len(errs))
	}
	for i, err := range errs {
		if err != nil && !(dialect{}).StorageFault(err) {
			t.Errorf("unit %d: %v, want a storage fault", i, err)
		}
	}
	if err := s.Update(ctx, audit(ctx, "after")); err != nil {
		t.Errorf("the batch once there is room: %v", err)
	}
	if n := audits(t, s, "after"); n != 1 {
		t.Errorf("%d rows of the batch after", n)
	}
}

// TestBadConnBeforeBatchOfMany: TestBadConnBeforeBatch with units queued
// together: each commits, on the fresh connection, and each is told so.
func TestBadConnBeforeBatchOfMany(t *testing.T) {
	s, f, _ := openFaulty(t)
	ctx := context.Background()
	var us []queued
	for i := range 6 {
		us = append(us, queued{ctx, audit(ctx, fmt.Sprint("m-", i, "."))})
	}
	errs, _ := queueBehind(t, s, func() { f.beginBad.Store(1) }, us...)
	if failed := told(t, s, "m-", errs); failed != 0 {
		t.Errorf("%d of %d units failed", failed, len(errs))
	}
	if f.beginBad.Load() != 0 {
		t.Error("no BEGIN found the connection broken")
	}
	if n := f.closed.Load(); n != 1 {
		t.Errorf("%d connections closed, want the broken one", n)
	}
}
