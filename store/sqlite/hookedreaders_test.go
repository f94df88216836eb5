package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"modernc.org/sqlite"

	"github.com/emfa/emfa/store/sqlstore"
)

// hookedConns makes reader connections, as the store's own readers are (closingConns),
// that a test can break, watch and count: the connections opened and closed, the
// statements prepared on them and not yet closed (stmts, when set), a hook run each time
// database/sql hands a connection out again (reset), and a statement's query replaced
// (query: st is the prepared statement, c its connection, which a hook may mark broken).
type hookedConns struct {
	closingConns
	opened, closed atomic.Int32
	stmts          *atomic.Int32
	reset          func()
	query          func(c *hookedConn, st driver.StmtQueryContext, ctx context.Context, nv []driver.NamedValue) (driver.Rows, error)
}

func (f *hookedConns) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := f.closingConns.Connect(ctx)
	if err != nil {
		return nil, err
	}
	f.opened.Add(1)
	return &hookedConn{closing: c.(*closing), f: f}, nil
}

type hookedConn struct {
	*closing
	f      *hookedConns
	broken atomic.Bool
}

func (c *hookedConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.closing.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.f.stmts != nil {
		c.f.stmts.Add(1)
	}
	return &hookedStmt{Stmt: st, c: c}, nil
}

func (c *hookedConn) ResetSession(ctx context.Context) error {
	if c.f.reset != nil {
		c.f.reset()
	}
	return c.closing.ResetSession(ctx)
}

func (c *hookedConn) Close() error {
	c.f.closed.Add(1)
	return c.closing.Close()
}

type hookedStmt struct {
	driver.Stmt
	c    *hookedConn
	once sync.Once
}

func (s *hookedStmt) QueryContext(ctx context.Context, nv []driver.NamedValue) (driver.Rows, error) {
	st := s.Stmt.(driver.StmtQueryContext)
	if s.c.f.query != nil {
		return s.c.f.query(s.c, st, ctx, nv)
	}
	return st.QueryContext(ctx, nv)
}

func (s *hookedStmt) Close() error {
	if n := s.c.f.stmts; n != nil {
		s.once.Do(func() { n.Add(-1) })
	}
	return s.Stmt.Close()
}

// hookedReaders is st, a file store at path, with its readers replaced by a pool of at
// most n connections made by h (query_only, as the store's own), idle ones kept up to
// idle: keyed reads as the store makes them, on connections a test breaks and counts.
// The pool closes with the test.
func hookedReaders(t *testing.T, st *Store, path string, n, idle int, h *hookedConns) (*sqlstore.Store, *sql.DB) {
	t.Helper()
	c, err := sqlite.NewConnector(uri(path) + "?" + withPragmas(url.Values{}, map[string]string{"query_only": "1"}).Encode())
	if err != nil {
		t.Fatal(err)
	}
	h.closingConns = closingConns{c}
	r := sql.OpenDB(h)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(idle)
	t.Cleanup(func() { r.Close() })
	return sqlstore.New(st.w, r, dialect{}, sqlstore.PrepareStatements(), sqlstore.AnonymousParams(), sqlstore.DetachedKeyedReads()), r
}
