package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// gateConnector opens connections with open, each running before, once, ahead of the
// first query whose text holds match.
type gateConnector struct {
	open   func() (driver.Conn, error)
	match  string
	once   *sync.Once
	before func()
}

func (c gateConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.open()
	if err != nil {
		return nil, err
	}
	return gateConn{Conn: conn, c: c}, nil
}

func (c gateConnector) Driver() driver.Driver { return nil }

type gateConn struct {
	driver.Conn
	c gateConnector
}

func (c gateConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if strings.Contains(q, c.c.match) {
		c.c.once.Do(c.c.before)
	}
	qc, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	return qc.QueryContext(ctx, q, args)
}

func (c gateConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if strings.Contains(q, c.c.match) {
		c.c.once.Do(c.c.before)
	}
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return pc.PrepareContext(ctx, q)
	}
	return c.Conn.Prepare(q)
}

func (c gateConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	if bc, ok := c.Conn.(driver.ConnBeginTx); ok {
		return bc.BeginTx(ctx, o)
	}
	return c.Conn.Begin() //nolint:staticcheck // the driver's only way
}

func (c gateConn) CheckNamedValue(v *driver.NamedValue) error {
	if nc, ok := c.Conn.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

// gateStores are a SQLite and a PostgreSQL store, and, for each, the DSN of its
// database a second pool may open.
func gateStores(t *testing.T) map[string]func(t *testing.T) (*sqlstore.Store, string) {
	return map[string]func(t *testing.T) (*sqlstore.Store, string){
		"sqlite": func(t *testing.T) (*sqlstore.Store, string) {
			path := t.TempDir() + "/emfa.db"
			return openSQLite(t, "file:"+path), "file:" + path
		},
		"postgres": func(t *testing.T) (*sqlstore.Store, string) {
			sv := testdb.Connect(t)
			schema := sv.NewSchema(t)
			s, err := postgres.Open(t.Context(), sv.SchemaDSN(t, schema))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			u, err := url.Parse(os.Getenv(testdb.DSNEnv))
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return s.Store, u.String()
		},
	}
}

// TestGroupPageOneSnapshot: a page of groups and the number of groups it answers
// (SCIM's totalResults) are of one state of the groups: a group created between the
// count and the page's read made a page of 11 groups out of a total of 10.
func TestGroupPageOneSnapshot(t *testing.T) {
	for name, open := range gateStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s, dsn := open(t)
			at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			for i := range 10 {
				if err := s.CreateGroup(ctx, store.Group{ID: fmt.Sprint("gid-", i), Name: fmt.Sprint("g", i), CreatedAt: at, UpdatedAt: at}); err != nil {
					t.Fatal(err)
				}
			}
			drv := sqlstore.ReadPool(s).Driver()
			var created error
			r := sql.OpenDB(gateConnector{open: func() (driver.Conn, error) { return drv.Open(dsn) },
				match: "LIMIT", once: new(sync.Once), before: func() {
					// Another replica's create, between the reads.
					created = s.CreateGroup(context.Background(), store.Group{ID: "gid-new", Name: "a-new", CreatedAt: at, UpdatedAt: at})
				}})
			t.Cleanup(func() { r.Close() })
			sqlstore.SetReadPool(s, r)
			for _, c := range []struct{ offset, limit int }{{0, 100}, {5, 100}, {0, 5}} {
				gs, n, err := s.GroupPage(ctx, c.offset, c.limit)
				if err != nil || created != nil {
					t.Fatal(err, created)
				}
				if want := min(c.limit, max(n-c.offset, 0)); len(gs) != want {
					t.Errorf("GroupPage(%d, %d): %d groups of a total of %d; want %d", c.offset, c.limit, len(gs), n, want)
				}
			}
		})
	}
}
