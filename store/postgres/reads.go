package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/emfa/emfa/store/sqlstore"
)

var _ sqlstore.RowReader = dialect{}

// ReadRow reads the one row of one of the contract's reads (a validation's factor and
// user) through pgx on a connection of db's pool, scanning each column straight into its
// destination, rather than through database/sql: pgx's stdlib driver builds a value
// function for every result column on every run of a query, and database/sql its rows and
// a goroutine watching the context. GetFactorAndUser cost 87 allocations that way.
// The statement is prepared and cached on the connection as before (pgx's statement
// cache, or the DSN's default_query_exec_mode).
func (dialect) ReadRow(ctx context.Context, db *sql.DB, q string, args ...any) sqlstore.Row {
	return &pooledRow{ctx: ctx, db: db, q: q, args: args}
}

// pooledRow is a read run when it is scanned.
type pooledRow struct {
	ctx  context.Context
	db   *sql.DB
	q    string
	args []any
	dest []any
}

// maxBadConnRetries: database/sql's, which tries a read that found its connection broken
// before anything was sent on a cached connection twice, then on a new one.
const maxBadConnRetries = 2

func (r *pooledRow) Scan(dest ...any) error {
	r.dest = dest
	var err error
	for range maxBadConnRetries + 1 {
		if err = r.read(); err == nil || !pgconn.SafeToRetry(err) {
			return err
		}
	}
	return err
}

// read runs r on one connection of the pool. A connection that failed before the query
// went out (closed by the server, a restart) goes back to the pool as bad: database/sql
// closes it rather than hand it out again.
func (r *pooledRow) read() error {
	conn, err := r.db.Conn(r.ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var qerr error
	err = conn.Raw(func(dc any) error {
		qerr = dc.(*stdlib.Conn).Conn().QueryRow(r.ctx, r.q, r.args...).Scan(r.dest...)
		if qerr != nil && pgconn.SafeToRetry(qerr) {
			return driver.ErrBadConn
		}
		return nil
	})
	if qerr != nil {
		return qerr
	}
	return err
}
