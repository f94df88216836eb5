package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
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

// Assumer is an Execer that may run a unit speculatively, as PostgreSQL's pipelined unit
// does: the statements whose results the unit needs go out with the rest and its COMMIT,
// in one round trip, and the writer goes on as if each had the result it expects.
//
// Assume queues q, a statement that fails with division by zero (SQLSTATE 22012) unless
// it had that result (see assumption), and reports whether it was queued. False: the unit
// is not speculating, and the writer runs its statement and reads the result. When an
// assumed result did not hold, nothing of the unit commits: its runner rolls it back and
// runs it again, without assuming anything (store.Store.Update).
type Assumer interface {
	Assume(ctx context.Context, q string, args ...any) bool
}

// Amender is an Assumer that can change the statement it queued last, assumed, before it
// goes out: Amend replaces it with q and args when it is still the last queued and its
// text is was, and reports whether it did. A writer folds into it what it would otherwise
// write to the same row in a statement of its own (AppendAudit: the factor's last use into
// AdvanceCounter's UPDATE).
type Amender interface {
	Amend(was, q string, args ...any) bool
}

// Reviser is an Assumer that can change an assumed statement it queued and has not sent,
// wherever it stands in the queue: Revise replaces the last queued assumed statement whose
// text is was with q and args, and reports whether it did. A writer folds into it a column
// it would otherwise write to the same row by a later statement of the unit (AppendAudit:
// a challenge's success's last use into ClearFailuresUnlocked's UPDATE, which the
// transaction's completion follows), where the statements between change other rows.
// Amend is for what must stay last (an audit row, in order with the unit's others).
type Reviser interface {
	Revise(was, q string, args ...any) bool
}

// assumption is q as an Assumer runs it: q, a data-modifying statement whose RETURNING
// gives its result, fails unless it returns a row (that passes where, a condition on the
// row r, when where is not empty). 1/(EXISTS …)::int divides by zero on no such row, and
// aborts the transaction with it. (1/count(*), as before, put an Aggregate node in the
// plan, set up and torn down on every run, about 8k of the server's instructions a
// statement, where EXISTS is an InitPlan that stops at the first row; the data-modifying
// CTE runs to completion either way.)
func assumption(q, where string) string {
	q = "WITH r AS (" + q + ") SELECT 1/(EXISTS (SELECT FROM r"
	if where != "" {
		q += " WHERE " + where
	}
	return q + "))::int"
}

// assumedNone is q, a data-modifying statement with a RETURNING clause, as an Assumer runs
// it when the writer assumes it changes no row: it divides by zero if q returns one.
func assumedNone(q string) string {
	return "WITH r AS (" + q + ") SELECT 1/(NOT EXISTS (SELECT FROM r))::int"
}

// rowsAffected is a sql.Result of a count.
type rowsAffected int64

func (n rowsAffected) LastInsertId() (int64, error) { return 0, errors.New("no insert id") }
func (n rowsAffected) RowsAffected() (int64, error) { return int64(n), nil }

// autoExecer is the Execer of a single write on the pool (Store.write without the group's
// writer), each statement of which commits by itself as it runs. A statement whose
// caller's context has ended is not sent; one sent is awaited whatever that context does
// then, up to AnswerGrace past the context's deadline: the driver cut the wait for its
// answer short when the context ended meanwhile (a request's deadline, Verify hanging
// up), and the caller was told "context canceled" of a change the database had committed
// (an audit event appended, an admin's change made), as a unit's COMMIT was
// (postgres.unit.commitDetached). A context without a deadline (a background worker's,
// ended at shutdown) still ends its statements: nothing else would bound the wait on a
// database that stopped answering, and no statement of a worker is cut short sooner
// than before.
type autoExecer struct{ q querier }

// AnswerGrace is how long past its caller's deadline the answer of a write that went out
// is awaited (autoExecer, postgres' COMMIT): the 2 s a write that outlives its request
// gets (provider.WriteGrace), after which the request answers 503. A live database
// answers at once; one that stopped answering leaves the outcome unknown, and the caller
// is told an error rather than held.
const AnswerGrace = 2 * time.Second

// detach is ctx's values without its cancelation, up to AnswerGrace past its deadline,
// or ctx itself when it has no deadline; the error of a context ended already.
func (autoExecer) detach(ctx context.Context) (context.Context, context.CancelFunc, error) {
	d, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	c, cancel := context.WithDeadline(context.WithoutCancel(ctx), d.Add(AnswerGrace))
	return c, cancel, nil
}

func (e autoExecer) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	ctx, cancel, err := e.detach(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	return sqlExecer(e).Exec(ctx, q, args...)
}

func (e autoExecer) QueryRow(ctx context.Context, q string, args ...any) Row {
	ctx, cancel, err := e.detach(ctx)
	if err != nil {
		return errRow{err}
	}
	return autoRow{e.q.QueryRowContext(ctx, q, args...), cancel}
}

func (e autoExecer) Later(ctx context.Context, q string, args ...any) error {
	_, err := e.Exec(ctx, q, args...)
	return err
}

// autoRow is a row of autoExecer.QueryRow: its context ends once it is scanned, not
// before (database/sql closes the rows of a context ended).
type autoRow struct {
	r      *sql.Row
	cancel context.CancelFunc
}

func (r autoRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.r.Scan(dest...)
}
