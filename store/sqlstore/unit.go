package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// Execer runs the statements of a write. The store's own runs them through database/sql;
// a dialect may run a unit's on its driver (UnitRunner), to send them pipelined.
type Execer interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, q string, args ...any) (int64, error)
	// QueryRow runs a query of at most one row. Its Scan must be called; with no row it
	// reports an error that is sql.ErrNoRows (errors.Is).
	QueryRow(ctx context.Context, q string, args ...any) Row
	// Later runs a statement whose result the write does not need (an audit row) before
	// the unit commits, in order with the others, and may send it with the next one; its
	// error then fails the unit.
	Later(ctx context.Context, q string, args ...any) error
}

// Row is one row of QueryRow.
type Row interface {
	Scan(dest ...any) error
}

// UnitRunner is implemented by a Dialect that runs a unit's transaction itself: it
// begins a transaction on a connection of db, runs fn with an Execer on it, and commits
// it if fn returns nil (rolls it back otherwise, or if fn panics).
type UnitRunner interface {
	RunUnit(ctx context.Context, db *sql.DB, fn func(e Execer) error) error
}

// sqlExecer is an Execer on database/sql.
type sqlExecer struct{ q querier }

func (e sqlExecer) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e sqlExecer) QueryRow(ctx context.Context, q string, args ...any) Row {
	return e.q.QueryRowContext(ctx, q, args...)
}

func (e sqlExecer) Later(ctx context.Context, q string, args ...any) error {
	_, err := e.q.ExecContext(ctx, q, args...)
	return err
}

// rowsAffected is a sql.Result of a count.
type rowsAffected int64

func (n rowsAffected) LastInsertId() (int64, error) { return 0, errors.New("no insert id") }
func (n rowsAffected) RowsAffected() (int64, error) { return int64(n), nil }
