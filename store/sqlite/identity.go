package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"

	"github.com/emfa/emfa/store/sqlstore"
)

// fileIdentity is the database file as Open found it: which file (device and inode,
// through os.SameFile) the store's connections hold open. A directory removed under a
// running server (rm -rf data) or a file put in its place leaves SQLite committing to the
// unlinked file: every write succeeds and is lost at the next start, and the
// .serve.lock beside it has gone too, so a second server could start on a new file.
// Nothing in SQLite says so; comparing the path's file with the opened one does.
//
// It is compared where that costs no request anything: at each Ping (/readyz, which
// probes call every few seconds) and before each background checkpoint (at most every
// checkpointEvery, and only while writes come); and, for a store opened with
// CheckFileAtCommit (a command's), at each commit, under the write lock. Once it has found
// the file gone, the writer's commit hook refuses every commit: a write fails, and its
// caller answers 503, instead of being accepted and lost. The hook reads one atomic flag,
// nothing more, unless it checks at each commit.
type fileIdentity struct {
	path   string
	opened os.FileInfo // set once the writer has opened the file, before Open returns
	log    *slog.Logger
	// eachCommit makes the commit hook check, not only read gone (CheckFileAtCommit).
	eachCommit bool
	gone       atomic.Bool
	// why is what check found, for the error of a refused write.
	why atomic.Pointer[error]
}

// check reports an error when path no longer names the file the store opened. The first
// time, it says so in the log (but for a command's store, eachCommit), and from then on
// writes are refused (refuseCommit).
func (f *fileIdentity) check() error {
	if f.gone.Load() {
		return *f.why.Load()
	}
	now, err := os.Stat(f.path)
	if err == nil && os.SameFile(f.opened, now) {
		return nil
	}
	why := "it was deleted (or its directory was)"
	if err == nil {
		why = "another file was put in its place"
	}
	err = fmt.Errorf("sqlite: the database file emfa has open is no longer the file at %s: %s; writes are refused, "+
		"since they would go to the unlinked file and be lost when emfa stops: stop emfa, restore the file (copy "+
		"/proc/<pid>/fd/… before stopping, or a backup) and start again", f.path, why)
	f.why.Store(&err)
	// A store that checks at each commit is a command's: the refused write's error
	// reaches its caller, which says what to do (run again); a server's log would tell
	// it to stop and restore the file.
	if !f.gone.Swap(true) && f.log != nil && !f.eachCommit {
		f.log.Error("storage: " + err.Error())
	}
	return err
}

// refuseCommit is the writer's SQLite commit hook: non-zero turns the commit into a
// rollback (SQLITE_CONSTRAINT_COMMITHOOK), which dialect.Hint explains with check's error.
// With eachCommit it checks first, once Open has seen the file the writer opened (opened).
func (f *fileIdentity) refuseCommit() int32 {
	if f.gone.Load() {
		return 1
	}
	if f.eachCommit && f.opened != nil && f.check() != nil {
		return 1
	}
	return 0
}

// refusal is check's error once the file is gone, else nil.
func (f *fileIdentity) refusal() error {
	if p := f.why.Load(); p != nil {
		return *p
	}
	return nil
}

// guarded is a connector whose connections refuse to commit once file is gone: the
// writer's, so that every write path (group commits, single statements, transactions of
// their own) is covered by one check in SQLite itself.
type guarded struct {
	driver.Connector
	file *fileIdentity
}

func (g guarded) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := g.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	h, ok := conn.(sqlite.HookRegisterer)
	if !ok {
		return nil, errors.Join(errors.New("sqlite: the driver's connection takes no commit hook"), conn.Close())
	}
	h.RegisterCommitHook(g.file.refuseCommit)
	c, ok := conn.(driverConn)
	if !ok {
		return nil, errors.Join(errors.New("sqlite: the driver's connection lacks an interface of database/sql's"), conn.Close())
	}
	return &closing{driverConn: c}, nil
}

// driverConn is what database/sql, the group writer and the keyed reads use of
// modernc.org/sqlite's connection.
type driverConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.SessionResetter
	driver.Validator
	driver.Pinger
}

// closing is a connection that runs what was asked to run before it closes
// (sqlstore.ClosingConn): the statements the group writer (a writer's connection) or the
// keyed reads (a reader's, closingConns) prepared on it, finalized before the connection,
// so that it closes and its files with it.
type closing struct {
	driverConn
	mu      sync.Mutex
	onClose []func()
}

var _ sqlstore.ClosingConn = (*closing)(nil)

func (c *closing) OnClose(fn func()) {
	c.mu.Lock()
	c.onClose = append(c.onClose, fn)
	c.mu.Unlock()
}

func (c *closing) Close() error {
	c.mu.Lock()
	fns := c.onClose
	c.onClose = nil
	c.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
	return c.driverConn.Close()
}

// Ping reports whether the database answers and is still the file at the DSN's path
// (fileIdentity): /readyz answers 503 otherwise.
func (s *Store) Ping(ctx context.Context) error {
	if s.file != nil {
		if err := s.file.check(); err != nil {
			return err
		}
	}
	return s.Store.Ping(ctx)
}

// Created reports whether Open created the database file: a new, empty store, which a
// mistyped storage.dsn also gives.
func (s *Store) Created() bool { return s.created }
