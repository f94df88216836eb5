package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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
	var n *nullable
	r.dest, n = substitute(dest)
	var err error
	for range maxBadConnRetries + 1 {
		if err = r.read(); err == nil || !pgconn.SafeToRetry(err) {
			break
		}
	}
	if err == nil && n != nil {
		n.copyBack(dest)
	}
	return err
}

// nullable holds pgx's own nullable types in place of database/sql's in a row's
// destinations (the user and transaction read beside a factor, NULL when there is
// none): pgx scans into a sql.Scanner through a plan made for each column of each
// run, and a driver.Value boxed for it, where it scans into its own types without
// an allocation.
type nullable struct {
	text  [8]pgtype.Text
	bools [2]pgtype.Bool
	ints  [6]pgtype.Int8
	dest  [32]any
}

// substitute returns dest with its sql.NullString, NullBool and NullInt64 replaced by
// pgx's, and where they are, or dest itself when it has none or more than there is
// room for.
func substitute(dest []any) ([]any, *nullable) {
	var nt, nb, ni int
	for _, d := range dest {
		switch d.(type) {
		case *sql.NullString:
			nt++
		case *sql.NullBool:
			nb++
		case *sql.NullInt64:
			ni++
		}
	}
	var n *nullable
	if nt+nb+ni == 0 || len(dest) > len(n.dest) || nt > len(n.text) || nb > len(n.bools) || ni > len(n.ints) {
		return dest, nil
	}
	n = &nullable{}
	nt, nb, ni = 0, 0, 0
	for i, d := range dest {
		switch d.(type) {
		case *sql.NullString:
			n.dest[i] = &n.text[nt]
			nt++
		case *sql.NullBool:
			n.dest[i] = &n.bools[nb]
			nb++
		case *sql.NullInt64:
			n.dest[i] = &n.ints[ni]
			ni++
		default:
			n.dest[i] = d
		}
	}
	return n.dest[:len(dest)], n
}

// copyBack sets dest's database/sql nullable values from n's, in the order substitute
// took them.
func (n *nullable) copyBack(dest []any) {
	var nt, nb, ni int
	for _, d := range dest {
		switch d := d.(type) {
		case *sql.NullString:
			*d = sql.NullString{String: n.text[nt].String, Valid: n.text[nt].Valid}
			nt++
		case *sql.NullBool:
			*d = sql.NullBool{Bool: n.bools[nb].Bool, Valid: n.bools[nb].Valid}
			nb++
		case *sql.NullInt64:
			*d = sql.NullInt64{Int64: n.ints[ni].Int64, Valid: n.ints[ni].Valid}
			ni++
		}
	}
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
