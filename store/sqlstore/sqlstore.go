// Package sqlstore is the one store.Store implementation on database/sql that the SQL
// backends share. store/sqlite and store/postgres open their database, set up its pools
// and migrate it, then hand the pools to New with the Dialect that says what their SQL
// does differently; every Store method lives here once.
//
// The statements are written in the SQL both databases accept: $n placeholders,
// RETURNING, INSERT ... ON CONFLICT ... DO UPDATE ... WHERE, CAST(... AS BIGINT). Times are
// unix milliseconds in integer columns, so comparisons are plain integer comparisons.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/store"
)

// Dialect is what one database's SQL needs that the shared statements cannot say the same
// way for every backend. A new Store method needs a hook here only if its SQL cannot be
// written once.
type Dialect interface {
	// Name prefixes every error the store returns: "sqlite", "postgres".
	Name() string
	// Constraint maps a constraint violation the driver reports to store.ErrExists (a
	// unique or primary key) or store.ErrNotFound (a foreign key: the row referred to is
	// missing), and anything else to nil.
	Constraint(err error) error
	// DeleteOldest returns a DELETE of at most $2 rows of table that match where (which
	// may use $1), the first in order. key lists the columns that identify a row, "" when
	// the table has none. Concurrent cleaners should not queue on the same rows.
	DeleteOldest(table, key, where, order string) string
	// ByteOrder returns an ORDER BY term that sorts the text column col by bytes, whatever
	// the database's collation.
	ByteOrder(col string) string
	// ExternalIDOf returns the expression of the attribute store.ExternalIDAttribute (its
	// text, NULL when there is none) of the attributes column col of user_profiles, as
	// the index on it is made: a query names the column as the index does.
	ExternalIDOf(col string) string
	// FoldedOf returns the expression of the text column col of user_profiles folded
	// as store.FoldText folds it, as the indexes on email and display_name are made.
	FoldedOf(col string) string
	// LockKeys makes ReserveSend's count and insert one atomic step across processes:
	// called in a unit's transaction (e) before the count, it holds until the unit ends whatever lock keeps every
	// other reservation of these keys (sorted, distinct) from recording a send meanwhile.
	LockKeys(ctx context.Context, e Execer, keys []string) error
	// WritesInWith reports whether a statement's WITH clause may write (PostgreSQL's
	// data-modifying CTEs), so that one statement carries two writes: one fewer statement
	// for the database to set up and run.
	WritesInWith() bool
	// Hint says what an operator can do about err when the driver's words leave it open
	// ("disk I/O error": a full disk?), or "" when they say enough.
	Hint(err error) string
}

// TextLimits is implemented by a Dialect whose text cannot hold every Go string. Such a
// database fails a statement that compares a column with a parameter it cannot hold
// (PostgreSQL: a NUL, or bytes that are not UTF-8, SQLSTATE 22021) where SQLite compares
// the bytes and finds nothing; in a unit, the failure aborts the whole transaction.
type TextLimits interface {
	// HoldsText reports whether a text column can hold s.
	HoldsText(s string) bool
}

// BareResults is implemented by a Dialect whose driver makes a Go string of each result
// column's name and of its declared type on every run of a query, whatever the caller
// scans: modernc.org/sqlite does (newRows), two allocations a column, 34 of the 94 of a
// validation's read of its factor and user (issue 16). The reads a contract call makes
// (reads) then name each column with one letter, a string Go makes without allocating, and
// return it through Bare, an expression, which has no declared type.
type BareResults interface {
	// Bare returns a term of a select list whose value is column col's, of no declared type.
	Bare(col string) string
}

// RowReader is implemented by a Dialect whose driver reads a row more cheaply on its own
// terms than through database/sql: pgx's stdlib driver builds a value function for every
// result column on every run of a query (stdlib.Rows), and database/sql adds its own rows
// and a goroutine watching the context, ~40 allocations of the ~85 of a validation's read
// of its factor and user (issue 16).
type RowReader interface {
	// ReadRow returns the one row of q, a read of the contract (reads), run on a
	// connection of db when the row is scanned. Its Scan reports an error that is
	// sql.ErrNoRows (errors.Is) when there is none.
	ReadRow(ctx context.Context, db *sql.DB, q string, args ...any) Row
}

var _ store.Store = (*Store)(nil)

// Store is a store.Store on database/sql. Its compare-and-set methods are each one
// statement whose WHERE carries the condition, so of concurrent calls exactly one changes
// the row: SQLite runs one writer at a time, and PostgreSQL, under READ COMMITTED, makes a
// concurrent UPDATE of the same row wait for the first to commit and then re-evaluate WHERE
// and SET against the new row.
//
// Every write is a unit (see Update). By default a unit runs on the pool w: a single write
// as its own statement, Update's in a transaction of its own, as PostgreSQL wants (its
// backends share WAL flushes among concurrent commits by themselves). With GroupCommit
// units queue for one writer that commits many at once instead (group.go), as SQLite,
// which has one writer, wants.
type Store struct {
	w    *sql.DB // writes, and ReserveSend's transaction
	r    *sql.DB // reads; may be w
	d    Dialect
	name string
	g    *group // nil: units run on w as they come
	// rq reads through r: r itself, or its prepared statements (PrepareStatements).
	rq querier
	// detachReads: the keyed reads of rd run on a reader's driver connection, without
	// their context's cancellation once they hold it (DetachedKeyedReads, keyedReads).
	detachReads bool
	keyedReads  keyedReads
	// rd are the texts of the reads a contract call makes, in d's terms (BareResults).
	rd reads
	// rr reads rd's single rows, when the dialect is a RowReader and no statements are
	// prepared through database/sql (stmts).
	rr    RowReader
	stmts *stmtCache // nil: statements are sent as text
	// anonParams: the cache prepares $n parameters as ? (AnonymousParams).
	anonParams bool
	// syncFull and syncDeferred are the statements that set the synchronous pragma of
	// GroupCommit's batches (DeferredSync), written once rather than joined at every
	// deferred batch (two allocations each); "" leaves the connection's setting alone.
	syncFull, syncDeferred string
	afterCommit            func() // AfterCommit
	begin                  string // what begins GroupCommit's batches (BeginWith)
	// faults remembers that writes fail for a storage reason, for Ping (fault.go).
	faults *faults
	// holds is the dialect's TextLimits.HoldsText; nil: its text holds any string.
	holds func(string) bool
	// pingAlone asks the database on a connection of its own, outside the pools
	// (PingAlone); nil: Ping asks through the pools only.
	pingAlone func(context.Context) error
	// takingReader, when set (tests), runs as a keyed read is about to take a reader
	// connection: another read may take one first.
	takingReader func()
}

// PingAlone gives Ping a way to ask the database on a connection of its own, for when
// every connection of a pool is in use (ping).
func PingAlone(fn func(context.Context) error) Option {
	return func(s *Store) { s.pingAlone = fn }
}

// DetachedKeyedReads runs the contract's keyed reads (a factor, a user, a transaction,
// a user's enabled factors: those of rd) without their context's cancellation once they
// hold a reader connection, for a database in the same process that answers such a read
// in microseconds (SQLite), and on the reader's driver connection (keyedReads). Under a
// context that can be canceled, as a request's is, database/sql starts a goroutine per
// query to close its rows when the context ends and modernc.org/sqlite another to
// interrupt the connection, with a channel, a progress handler and a wait context: a
// GetFactorAndUser and a UserDisabled under such a context cost 78 allocations and ~74 µs
// of CPU, and 64 and ~45 µs without its cancellation (medians of 5 runs, interleaved, on
// the 2-core machine); on the driver connection, 49 allocations and ~82k instructions
// where database/sql's query under the context without its cancellation cost 64 and
// ~97k (callgrind, BenchmarkReadPair). Taking the reader keeps the cancellation: the
// reads ahead may hold every reader for long (listings), and a request must not wait
// past its deadline for them (it waited until one was freed, 2 s past a 100 ms deadline,
// when it was detached on seeing a reader free and another read took that one first).
// Once it holds one, what a read may wait for is a lock another process holds (a
// WAL reader only waits on one while that process recovers the log, leaves WAL or locks
// the file exclusively), no longer than busy_timeout. A context that ended before the
// read still fails it. Not for PostgreSQL, whose reads cross a network that may hang.
func DetachedKeyedReads() Option {
	return func(s *Store) { s.detachReads = true }
}

// readRow runs q, one of rd's reads of one row, on the read pool.
func (s *Store) readRow(ctx context.Context, q string, args ...any) Row {
	switch {
	case s.detachReads:
		return &keyedRow{s: s, ctx: ctx, q: q, args: args}
	case s.rr != nil:
		return s.rr.ReadRow(ctx, s.r, q, args...)
	}
	return s.rq.QueryRowContext(ctx, q, args...)
}

// scanRow scans the row of q, one of rd's reads of one row, into dest, as readRow's Scan
// would. A keyed read's row (keyedRow) stays on the stack here, where readRow's goes to
// the heap in the Row it returns: one allocation of every validation's GetFactorAndUser.
func (s *Store) scanRow(ctx context.Context, dest []any, q string, args ...any) error {
	if s.detachReads {
		return (&keyedRow{s: s, ctx: ctx, q: q, args: args}).Scan(dest...)
	}
	return s.readRow(ctx, q, args...).Scan(dest...)
}

// readBool reads the one boolean column of q, one of rd's reads of one row, on the read
// pool. Scanned through the Row interface (readRow), the boolean went to the heap: its
// address is passed to a Scan the compiler cannot see, an allocation of every mediated
// initiate's UserDisabled that database/sql's *sql.Row, scanned as itself, does not make.
func (s *Store) readBool(ctx context.Context, q string, args ...any) (bool, error) {
	switch {
	case s.detachReads:
		var b bool
		err := (&keyedRow{s: s, ctx: ctx, q: q, args: args}).Scan(&b)
		return b, err
	case s.rr != nil:
		return scanBool(s.rr.ReadRow(ctx, s.r, q, args...))
	}
	var b bool
	err := s.rq.QueryRowContext(ctx, q, args...).Scan(&b)
	return b, err
}

// scanBool scans r's one boolean column.
func scanBool(r Row) (bool, error) {
	var b bool
	err := r.Scan(&b)
	return b, err
}

// Option changes how New's store works.
type Option func(*Store)

// New returns a store that writes through w and reads through r (which may be w) in
// dialect d. The store owns the pools: Close closes them.
func New(w, r *sql.DB, d Dialect, opts ...Option) *Store {
	s := &Store{w: w, r: r, d: d, name: d.Name(), faults: newFaults(d), rd: newReads(d)}
	if l, ok := d.(TextLimits); ok {
		s.holds = l.HoldsText
	}
	for _, o := range opts {
		o(s)
	}
	if s.stmts != nil {
		s.stmts.anon = s.anonParams
	}
	s.keyedReads.anon = s.anonParams
	s.rq = s.on(r, nil)
	if rr, ok := d.(RowReader); ok && s.stmts == nil {
		s.rr = rr
	}
	if s.g != nil {
		go s.g.run()
	}
	return s
}

// querier is what a pool and a transaction have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writer is a store.Writer: the writes of one unit, and the reads that explain their
// results, all through e, so they see the unit's own writes (and, in a batch, those of the
// units before it).
type writer struct {
	s    *Store
	e    Execer
	unit bool // e is a unit's transaction; false: a single write on the pool
	// ctx, when set, replaces the caller's context: a unit in a shared batch must not be
	// interrupted by its caller's cancellation, which would abort its neighbours too.
	ctx context.Context
	// advanced: the arguments (id, next, now) of the AdvanceCounter this unit assumed
	// last, which AppendAudit may amend with the factor's last use (Amender).
	advanced   []any
	advancedBy *advanceCounterSQL
	// audited: the arguments of the compare-and-set AppendAudit amended last with its
	// audit row (advanceCounterSQL.audited), which RecordIdempotency may amend with the
	// claim of the answer's record (advanceCounterSQL.recorded).
	audited   []any
	auditedBy *advanceCounterSQL
	// cleared: the arguments (id, now) of the ClearFailuresUnlocked this unit assumed
	// last, which AppendAudit may revise with the factor's last use (Reviser).
	cleared []any
	// used: a factor whose last use this unit has written at usedAt (milliseconds) with
	// another change of its row (PutSession's), which AppendAudit does not write again.
	used   string
	usedAt int64
}

var _ store.Writer = (*writer)(nil)

func (w *writer) c(ctx context.Context) context.Context {
	if w.ctx != nil {
		return w.ctx
	}
	return ctx
}

// exec runs a statement through e, its count of changed rows as a sql.Result.
func (w *writer) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	n, err := w.e.Exec(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rowsAffected(n), nil
}

// write runs fn as a single write: on the group's writer, or at once on the pool, where
// each statement commits on its own. fn makes one change; a change with its audit record
// is a unit (unit), so that both commit or neither.
func (s *Store) write(ctx context.Context, fn func(w *writer) error) (err error) {
	defer func() { s.faults.wrote(err) }()
	if s.g != nil {
		return s.g.do(ctx, fn)
	}
	return fn(&writer{s: s, e: autoExecer{s.on(s.w, nil)}})
}

// result runs fn as a single write (write) and returns what it returns.
func result[T any](ctx context.Context, s *Store, fn func(w *writer) (T, error)) (T, error) {
	var r T
	err := s.write(ctx, func(w *writer) (err error) {
		r, err = fn(w)
		return err
	})
	return r, err
}

// unit runs fn as a unit: on the group's writer, in the dialect's own transactions
// (UnitRunner), or in a database/sql transaction.
func (s *Store) unit(ctx context.Context, fn func(w *writer) error) (err error) {
	defer func() { s.faults.wrote(err) }()
	if s.g != nil {
		return s.g.do(ctx, fn)
	}
	if r, ok := s.d.(UnitRunner); ok {
		return r.RunUnit(ctx, s.w, func(e Execer) error { return fn(&writer{s: s, e: e, unit: true}) })
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("update", err)
	}
	defer func() {
		if r := recover(); r != nil {
			_ = tx.Rollback() // so that the connection goes back to the pool
			panic(r)
		}
	}()
	if err := fn(&writer{s: s, e: sqlExecer{s.on(s.w, tx)}, unit: true}); err != nil {
		_ = tx.Rollback() // gone either way
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.fail("update: commit", err)
	}
	return nil
}

// Update runs fn's writes as one unit, committed once (store.Store.Update).
func (s *Store) Update(ctx context.Context, fn func(w store.Writer) error) error {
	return s.unit(ctx, func(w *writer) error { return fn(w) })
}

// Close stops the group's writer, if any, and closes both pools. Called from inside one of
// the store's writes, it closes nothing and returns ErrCloseInBatch. The pools close
// before the writer's batch running is answered (group.close): closing one closes the
// statements prepared on its connections first, so that they close clean.
func (s *Store) Close() error {
	var err error
	closePools := func() {
		if s.r == s.w {
			err = s.w.Close()
			return
		}
		err = errors.Join(s.r.Close(), s.w.Close())
	}
	if s.g != nil {
		if err := s.g.close(closePools); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	} else {
		closePools()
	}
	if s.stmts != nil {
		s.stmts.close()
	}
	return err
}

// Ping reports whether both pools can reach the database, and whether it takes writes:
// while they fail for a storage reason, a *store.WritesFailing (fault.go).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.ping(ctx, s.w); err != nil {
		return s.fail("ping", err)
	}
	if s.r != s.w {
		if err := s.ping(ctx, s.r); err != nil {
			return s.fail("ping readers", err)
		}
	}
	if err := s.writable(ctx); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

// ping asks db's database to answer: through the pool, unless every connection of it is
// in use (long transactions, a burst of load) and the dialect can open one of its own.
// Waiting for a pooled connection then measures how busy this replica is, not whether
// the database answers: /readyz failing on it took every replica of a loaded database out
// of rotation at once, where none was down.
func (s *Store) ping(ctx context.Context, db *sql.DB) error {
	if s.pingAlone != nil {
		if st := db.Stats(); st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections {
			return s.pingAlone(ctx)
		}
	}
	return db.PingContext(ctx)
}

// namesNothing reports whether one of keys (a user's name, a factor's id...) is text the
// database cannot hold (TextLimits), so that no row has it: a lookup by it finds nothing,
// as it does on a database that holds any string, without asking the database, which
// would fail the statement (a fault, 503, for a name in an admin API URL) and in a unit
// the unit's transaction with it.
func (s *Store) namesNothing(keys ...string) bool {
	if s.holds == nil {
		return false
	}
	for _, k := range keys {
		if !s.holds(k) {
			return true
		}
	}
	return false
}

// reads are the texts of the reads a contract call makes: its factor, its user, its
// transaction. Their select lists are the columns' own, or, for a BareResults dialect,
// each column through Bare under a name of one letter (f.* then reads "a", "b" ...).
type reads struct {
	factor, factorAndUser, factorUserTx, factorsOf, enabledFactors string
	userByName, userByID, userDisabled, tx                         string
}

func newReads(d Dialect) reads {
	f, u, t, disabled := factorCols, userCols, txCols, "disabled"
	if b, ok := d.(BareResults); ok {
		f, u, t, disabled = bareList(b, factorCols), bareList(b, userCols), bareList(b, txCols), bareList(b, disabled)
	}
	return reads{
		factor: `SELECT ` + f + ` FROM factors WHERE id = $1`,
		factorAndUser: `SELECT f.*, u.* FROM (SELECT ` + f + ` FROM factors WHERE id = $1) AS f
		 LEFT JOIN (SELECT ` + u + ` FROM users WHERE lower(name) = $2) AS u ON TRUE`,
		factorUserTx: `SELECT f.*, u.*, t.* FROM (SELECT ` + f + ` FROM factors WHERE id = $1) AS f
		 LEFT JOIN (SELECT ` + u + ` FROM users WHERE lower(name) = $2) AS u ON TRUE
		 LEFT JOIN (SELECT ` + t + ` FROM transactions WHERE id = $3) AS t ON TRUE`,
		factorsOf: `SELECT ` + f + ` FROM factors WHERE user_id = $1 ORDER BY created_at, id`,
		enabledFactors: `SELECT ` + f + ` FROM factors
		 WHERE user_id = (SELECT id FROM users WHERE lower(name) = $1 AND NOT disabled)
		 ORDER BY created_at, id`,
		userByName:   `SELECT ` + u + ` FROM users WHERE lower(name) = $1`,
		userByID:     `SELECT ` + u + ` FROM users WHERE id = $1`,
		userDisabled: `SELECT ` + disabled + ` FROM users WHERE lower(name) = $1`,
		tx:           `SELECT ` + t + ` FROM transactions WHERE id = $1`,
	}
}

// bareList is the list of columns cols ("id, name") as BareResults reads it: "+id AS a,
// +name AS b" (at most 26: no list here has more than 13).
func bareList(b BareResults, cols string) string {
	var sb strings.Builder
	for i, c := range strings.Split(cols, ", ") {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(b.Bare(c))
		sb.WriteString(" AS ")
		sb.WriteByte(byte('a' + i))
	}
	return sb.String()
}

// --- users ---

const userCols = `id, name, disabled, created_at`

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.write(ctx, func(w *writer) error { return w.CreateUser(ctx, u) })
}

func (w *writer) CreateUser(ctx context.Context, u store.User) error {
	ctx = w.c(ctx)
	_, err := w.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4)`,
		u.ID, u.Name, u.Disabled, millis(u.CreatedAt))
	if errors.Is(w.s.d.Constraint(err), store.ErrExists) {
		err = store.ErrExists
	}
	if err != nil {
		return w.s.fail(fmt.Sprintf("create user %q", u.Name), err)
	}
	return nil
}

func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	if s.namesNothing(name) {
		return store.User{}, s.fail(fmt.Sprintf("get user %q", name), store.ErrNotFound)
	}
	u, err := scanUser(s.readRow(ctx, s.rd.userByName, store.FoldName(name)))
	if err != nil {
		return store.User{}, s.fail(fmt.Sprintf("get user %q", name), notFound(err))
	}
	return u, nil
}

func (s *Store) UserDisabled(ctx context.Context, name string) (bool, error) {
	if s.namesNothing(name) {
		return false, nil
	}
	disabled, err := s.readBool(ctx, s.rd.userDisabled, store.FoldName(name))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, s.fail(fmt.Sprintf("read whether user %q is disabled", name), err)
	}
	return disabled, nil
}

func (s *Store) GetUserByID(ctx context.Context, id string) (store.User, error) {
	if s.namesNothing(id) {
		return store.User{}, s.fail(fmt.Sprintf("get user %q", id), store.ErrNotFound)
	}
	u, err := scanUser(s.readRow(ctx, s.rd.userByID, id))
	if err != nil {
		return store.User{}, s.fail(fmt.Sprintf("get user %q", id), notFound(err))
	}
	return u, nil
}

func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	return s.write(ctx, func(w *writer) error { return w.SetUserDisabled(ctx, name, disabled) })
}

func (w *writer) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	ctx = w.c(ctx)
	if w.s.namesNothing(name) {
		return w.s.fail(fmt.Sprintf("set user %q disabled", name), store.ErrNotFound)
	}
	res, err := w.exec(ctx, `UPDATE users SET disabled = $2 WHERE lower(name) = $1`, store.FoldName(name), disabled)
	if err := changedOne(res, err); err != nil {
		return w.s.fail(fmt.Sprintf("set user %q disabled", name), err)
	}
	return nil
}

func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.write(ctx, func(w *writer) error { return w.DeleteUser(ctx, name) })
}

func (w *writer) DeleteUser(ctx context.Context, name string) error {
	ctx = w.c(ctx)
	if w.s.namesNothing(name) {
		return w.s.fail(fmt.Sprintf("delete user %q", name), store.ErrNotFound)
	}
	// The factors go with it: ON DELETE CASCADE, in the same statement.
	res, err := w.exec(ctx, `DELETE FROM users WHERE lower(name) = $1`, store.FoldName(name))
	if err := changedOne(res, err); err != nil {
		return w.s.fail(fmt.Sprintf("delete user %q", name), err)
	}
	return nil
}

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	var created int64
	if err := sc.Scan(&u.ID, &u.Name, &u.Disabled, &created); err != nil {
		return store.User{}, err
	}
	u.CreatedAt = fromMillis(created)
	return u, nil
}

// --- factors ---

const factorCols = `id, user_id, type, label, state, secret, key_id, params, counter, failures, locked_until, created_at, updated_at`

func (s *Store) CreateFactor(ctx context.Context, f store.Factor) error {
	return s.write(ctx, func(w *writer) error { return w.CreateFactor(ctx, f) })
}

func (w *writer) CreateFactor(ctx context.Context, f store.Factor) error {
	ctx = w.c(ctx)
	const op = "create factor "
	params, err := encodeParams(f.Params)
	if err != nil {
		return w.s.fail(op+f.ID, err)
	}
	// A taken id, or a user who does not exist, inserts nothing rather than failing: in a
	// unit on PostgreSQL a failed statement aborts the transaction, and the caller may go
	// on after ErrExists or ErrNotFound.
	res, err := w.exec(ctx,
		`INSERT INTO factors (`+factorCols+`) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
		 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
		 ON CONFLICT (id) DO NOTHING`,
		f.ID, f.UserID, f.Type, f.Label, string(f.State), f.Secret, f.KeyID, params,
		f.Counter, f.Failures, millis(f.LockedUntil), millis(f.CreatedAt), millis(f.UpdatedAt))
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if w.e.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1`, f.UserID).Scan(&one) != nil {
				return w.s.fail(op+f.ID, fmt.Errorf("user %s: %w", f.UserID, store.ErrNotFound))
			}
			return w.s.fail(op+f.ID, store.ErrExists)
		}
	}
	switch c := w.s.d.Constraint(err); {
	case errors.Is(c, store.ErrExists):
		return w.s.fail(op+f.ID, store.ErrExists)
	case errors.Is(c, store.ErrNotFound):
		return w.s.fail(op+f.ID, fmt.Errorf("user %s: %w", f.UserID, store.ErrNotFound))
	case err != nil:
		return w.s.fail(op+f.ID, err)
	}
	return nil
}

// CreateFactorWithin runs as a unit even alone: the user's lock holds until the commit.
func (s *Store) CreateFactorWithin(ctx context.Context, f store.Factor, most int, alike store.Alike) error {
	return s.unit(ctx, func(w *writer) error { return w.CreateFactorWithin(ctx, f, most, alike) })
}

// userLockClass is the first key of PostgreSQL's advisory locks of a user's factor count
// (CreateFactorWithin), apart from any other lock's.
const userLockClass = 0x656d6675 // "emfu"

func (w *writer) CreateFactorWithin(ctx context.Context, f store.Factor, most int, alike store.Alike) error {
	const op = "create factor "
	if w.unit && w.s.g == nil && w.s.name == "postgres" {
		// The user's row first, FOR SHARE as factors' insert trigger takes it anyway, then
		// the count's lock: a change of the user (ApplyUserChanges) locks its row first
		// (lockFirst) and the count's lock after, for a factor it creates or re-points.
		// Taken the other way round, by the trigger after this lock, each held what the
		// other waited for, and PostgreSQL aborted one (40P01).
		if err := w.e.Later(w.c(ctx), `SELECT 1 FROM users WHERE id = $1 FOR SHARE`, f.UserID); err != nil {
			return w.s.fail(op+f.ID, err)
		}
		// Sent with the count, and run before it: the count of a unit that waited for
		// another's commit reads that one's factor (each statement its own snapshot).
		if err := w.e.Later(w.c(ctx), `SELECT pg_advisory_xact_lock($1, hashtext($2))`, userLockClass, f.UserID); err != nil {
			return w.s.fail(op+f.ID, err)
		}
	}
	q, args := countWithin(f, alike)
	var n, alikeN int
	if err := w.e.QueryRow(w.c(ctx), q, args...).Scan(&n, &alikeN); err != nil {
		return w.s.fail(op+f.ID, err)
	}
	if n >= most {
		return w.s.fail(op+f.ID, fmt.Errorf("user %s has %d factors: %w", f.UserID, n, store.ErrTooMany))
	}
	if alikeN > 0 {
		return w.s.fail(op+f.ID, fmt.Errorf("user %s: %w", f.UserID, store.ErrAlike))
	}
	return w.CreateFactor(ctx, f)
}

// countWithin counts the factors of f's user (n) and those alike f (alike).
func countWithin(f store.Factor, alike store.Alike) (string, []any) {
	// params ->> 'name' is the param's text in both schemas (JSONB; SQLite's JSON text).
	same, args := "FALSE", []any{f.UserID}
	if alike.Type {
		same, args = "type = $2", append(args, f.Type)
		if alike.Param != "" {
			same += " AND lower(params ->> CAST($3 AS TEXT)) = lower(CAST($4 AS TEXT))"
			args = append(args, alike.Param, f.Params[alike.Param])
		}
	}
	return `SELECT count(*) AS n, count(CASE WHEN ` + same + ` THEN 1 END) AS alike FROM factors WHERE user_id = $1`, args
}

func (s *Store) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	if s.namesNothing(id) {
		return store.Factor{}, s.fail("get factor "+id, store.ErrNotFound)
	}
	f, err := scanFactor(s.readRow(ctx, s.rd.factor, id))
	if err != nil {
		return store.Factor{}, s.fail("get factor "+id, notFound(err))
	}
	return f, nil
}

func (s *Store) GetFactorAndUser(ctx context.Context, id, name string) (store.Factor, store.User, error) {
	if s.namesNothing(name) {
		// No user has the name; the factor may exist.
		f, err := s.GetFactor(ctx, id)
		return f, store.User{}, err
	}
	if s.namesNothing(id) {
		return store.Factor{}, store.User{}, s.fail("get factor "+id, store.ErrNotFound)
	}
	var r struct {
		factorRow
		userRow
		dest [13 + 4]any
	}
	r.factorRow.into(r.dest[:13])
	r.userRow.into(r.dest[13:])
	err := s.scanRow(ctx, r.dest[:], s.rd.factorAndUser, id, store.FoldName(name))
	if err != nil {
		return store.Factor{}, store.User{}, s.fail("get factor "+id, notFound(err))
	}
	f, err := r.factor()
	if err != nil {
		return store.Factor{}, store.User{}, s.fail("get factor "+id, err)
	}
	return f, r.user(), nil
}

// userRow is what a read of a user beside another row (LEFT JOIN: NULL when there is no
// such user) scans into.
type userRow struct {
	uid, uname sql.NullString
	disabled   sql.NullBool
	created    sql.NullInt64
}

// into points dest (4 long) at r's columns.
func (r *userRow) into(dest []any) {
	dest[0], dest[1], dest[2], dest[3] = &r.uid, &r.uname, &r.disabled, &r.created
}

// user is the user r read; a User with an empty ID when there was none.
func (r *userRow) user() store.User {
	if !r.uid.Valid {
		return store.User{}
	}
	return store.User{ID: r.uid.String, Name: r.uname.String, Disabled: r.disabled.Bool, CreatedAt: fromMillis(r.created.Int64)}
}

func (s *Store) GetFactorUserAndTransaction(ctx context.Context, id, name, txID string) (store.Factor, store.User, store.Transaction, error) {
	if s.namesNothing(id, name, txID) {
		// One of them is no row's: the reads that can find something, apart.
		f, u, err := s.GetFactorAndUser(ctx, id, name)
		if err != nil || s.namesNothing(txID) {
			return f, u, store.Transaction{}, err
		}
		t, err := s.GetTransaction(ctx, txID)
		if errors.Is(err, store.ErrNotFound) {
			return f, u, store.Transaction{}, nil
		}
		return f, u, t, err
	}
	var r struct {
		factorRow
		userRow
		tid, tprovider, tusername, tcapability, tfactor, tstatus sql.NullString
		tattempts, texpires, tcreated, tupdated                  sql.NullInt64
		t                                                        store.Transaction
		dest                                                     [13 + 4 + 12]any
	}
	r.factorRow.into(r.dest[:13])
	r.userRow.into(r.dest[13:17])
	t := &r.t
	copy(r.dest[17:], []any{&r.tid, &r.tprovider, &r.tusername, &r.tcapability, &r.tfactor, &r.tstatus, &t.Secret,
		&r.tattempts, &t.Data, &r.texpires, &r.tcreated, &r.tupdated})
	err := s.scanRow(ctx, r.dest[:], s.rd.factorUserTx, id, store.FoldName(name), txID)
	if err != nil {
		return store.Factor{}, store.User{}, store.Transaction{}, s.fail("get factor "+id, notFound(err))
	}
	f, err := r.factor()
	if err != nil {
		return store.Factor{}, store.User{}, store.Transaction{}, s.fail("get factor "+id, err)
	}
	u := r.user()
	if !r.tid.Valid {
		return f, u, store.Transaction{}, nil
	}
	t.ID, t.Provider, t.Username, t.Capability, t.FactorID, t.Status = r.tid.String, r.tprovider.String, r.tusername.String,
		r.tcapability.String, r.tfactor.String, r.tstatus.String
	t.Attempts = int(r.tattempts.Int64)
	t.Secret, t.Data = nilIfEmpty(t.Secret), nilIfEmpty(t.Data)
	t.ExpiresAt, t.CreatedAt, t.UpdatedAt = fromMillis(r.texpires.Int64), fromMillis(r.tcreated.Int64), fromMillis(r.tupdated.Int64)
	return f, u, *t, nil
}

func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	if s.namesNothing(userID) {
		return []store.Factor{}, nil
	}
	// factors.id sorts by bytes in both schemas (COLLATE "C" in PostgreSQL).
	fs, err := query(ctx, s.rq, scanFactor, s.rd.factorsOf, userID)
	if err != nil {
		return nil, s.fail("list factors of "+userID, err)
	}
	return fs, nil
}

func (s *Store) ListEnabledFactors(ctx context.Context, name string) ([]store.Factor, error) {
	if s.namesNothing(name) {
		return nil, nil
	}
	// As many rows as the user has factors: a keyed read too.
	var fs []store.Factor
	var err error
	if s.detachReads {
		fs, err = keyedQuery(ctx, s, scanFactor, s.rd.enabledFactors, store.FoldName(name))
	} else {
		fs, err = query(ctx, s.rq, scanFactor, s.rd.enabledFactors, store.FoldName(name))
	}
	if err != nil {
		return nil, s.fail(fmt.Sprintf("list factors of user %q", name), err)
	}
	return fs, nil
}

func (s *Store) FactorKeyIDs(ctx context.Context) ([]string, error) {
	// A loose index scan on factors_key_id: each step finds the next id after the last
	// one, so the cost grows with the number of keys, not of factors. "" is no key.
	ids, err := query(ctx, s.rq, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `WITH RECURSIVE k(id) AS (
		SELECT MIN(key_id) FROM factors WHERE key_id > ''
		UNION ALL
		SELECT (SELECT MIN(key_id) FROM factors WHERE key_id > k.id) FROM k WHERE k.id IS NOT NULL)
	SELECT id FROM k WHERE id IS NOT NULL`)
	if err != nil {
		return nil, s.fail("list factor key ids", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// SetFactorState and DeleteFactor are units: a factor that leaves FactorActive ends the
// self-service sessions signed in with it in the same commit (store.UserChange).

func (s *Store) SetFactorState(ctx context.Context, id string, st store.FactorState, now time.Time) error {
	return s.unit(ctx, func(w *writer) error { return w.SetFactorState(ctx, id, st, now) })
}

func (w *writer) SetFactorState(ctx context.Context, id string, st store.FactorState, now time.Time) error {
	ctx = w.c(ctx)
	if w.s.namesNothing(id) {
		return w.s.fail(fmt.Sprintf("set factor %s state", id), store.ErrNotFound)
	}
	var userID string
	err := w.e.QueryRow(ctx, `UPDATE factors SET state = $2, updated_at = $3 WHERE id = $1 RETURNING user_id`,
		id, string(st), millis(now)).Scan(&userID)
	if err == nil && st != store.FactorActive {
		err = w.endFactorSessions(ctx, userID, id)
	}
	if err != nil {
		return w.s.fail(fmt.Sprintf("set factor %s state", id), notFound(err))
	}
	return nil
}

func (s *Store) DeleteFactor(ctx context.Context, id string) error {
	return s.unit(ctx, func(w *writer) error { return w.DeleteFactor(ctx, id) })
}

func (w *writer) DeleteFactor(ctx context.Context, id string) error {
	ctx = w.c(ctx)
	if w.s.namesNothing(id) {
		return w.s.fail("delete factor "+id, store.ErrNotFound)
	}
	var userID string
	err := w.e.QueryRow(ctx, `DELETE FROM factors WHERE id = $1 RETURNING user_id`, id).Scan(&userID)
	if err == nil {
		err = w.endFactorSessions(ctx, userID, id)
	}
	if err != nil {
		return w.s.fail("delete factor "+id, notFound(err))
	}
	return nil
}

func (s *Store) AdvanceCounter(ctx context.Context, id string, next int64, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.AdvanceCounter(ctx, id, next, now) })
}

func (w *writer) AdvanceCounter(ctx context.Context, id string, next int64, now time.Time) error {
	ctx = w.c(ctx)
	const op = "advance counter of "
	if w.s.namesNothing(id) {
		return w.s.fail(op+id, store.ErrNotFound)
	}
	// The comparison and the write are one statement, so two requests carrying the same
	// code cannot both pass: the second finds counter = next and changes nothing. Nor does
	// a right code pass once concurrent wrong ones have locked the factor: the lockout
	// bounds the guesses a burst of requests gets checked.
	q := &advanceCounter[0]
	if w.s.name == "postgres" {
		q = &advanceCounter[1]
	}
	// Room for the time of the factor's use, which AppendAudit may add (Amender).
	args := append(make([]any, 0, 4), id, next, millis(now))
	if w.assume(ctx, func() string { return q.assumed }, args...) {
		w.advanced, w.advancedBy = args, q
		return nil
	}
	if b, ok := w.e.(*batchExecer); ok && b.assumeOne(q.assumed, args) {
		w.advanced, w.advancedBy = args, q
		return nil
	}
	// Careful, as ClearFailuresUnlocked: the use goes by a second UPDATE (lockUserOf).
	if err := w.lockUserOf(ctx, id); err != nil {
		return w.s.fail(op+id, err)
	}
	err := changedOne(w.exec(ctx, q.sql, args...))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return w.s.fail(op+id, err)
		}
		// Nothing changed: no such factor, the factor or its user disabled, the counter is
		// already there, or a lockout.
		var counter, lockedUntil int64
		var inactive bool
		switch err := w.e.QueryRow(ctx, `SELECT f.counter, f.locked_until, f.state = '`+string(store.FactorDisabled)+`' OR u.disabled
			FROM factors f JOIN users u ON u.id = f.user_id WHERE f.id = $1`, id).Scan(&counter, &lockedUntil, &inactive); {
		case errors.Is(err, sql.ErrNoRows):
			return w.s.fail(op+id, store.ErrNotFound)
		case err != nil:
			return w.s.fail(op+id, err)
		case inactive:
			return w.s.fail(op+id, store.ErrInactive)
		case counter < next:
			return w.s.fail(op+id, store.ErrLocked)
		}
		return w.s.fail(fmt.Sprintf("%s%s to %d", op, id, next), store.ErrReplay)
	}
	return nil
}

// recordFailureSQL counts a failure in one statement, so concurrent failures are never
// lost. SET expressions all see the row as it was: "expired" is recomputed in each rather
// than shared through a sub-select, which in PostgreSQL would read a snapshot older than a
// concurrent update. The casts tell PostgreSQL the parameters' type, which it cannot infer
// from every use.
//
// $1 id, $2 now, $3 max, $4 now+lockFor.
const recordFailureSQL = `
UPDATE factors SET
    failures = (CASE WHEN locked_until <> 0 AND locked_until <= CAST($2 AS BIGINT) THEN 0 ELSE failures END) + 1,
    locked_until = CASE
        WHEN CAST($3 AS BIGINT) > 0
             AND (CASE WHEN locked_until <> 0 AND locked_until <= CAST($2 AS BIGINT) THEN 0 ELSE failures END) + 1 >= CAST($3 AS BIGINT)
            THEN CAST($4 AS BIGINT)
        WHEN locked_until <> 0 AND locked_until <= CAST($2 AS BIGINT)
            THEN 0
        ELSE locked_until
    END,
    updated_at = CAST($2 AS BIGINT)
WHERE id = $1
RETURNING ` + factorCols

func (s *Store) RecordFailure(ctx context.Context, id string, now time.Time, maxFailures int, lockFor time.Duration) (store.Factor, error) {
	return result(ctx, s, func(w *writer) (store.Factor, error) { return w.RecordFailure(ctx, id, now, maxFailures, lockFor) })
}

func (w *writer) RecordFailure(ctx context.Context, id string, now time.Time, maxFailures int, lockFor time.Duration) (store.Factor, error) {
	ctx = w.c(ctx)
	if w.s.namesNothing(id) {
		return store.Factor{}, w.s.fail("record failure of "+id, store.ErrNotFound)
	}
	f, err := scanFactor(w.e.QueryRow(ctx, recordFailureSQL,
		id, millis(now), int64(maxFailures), millis(now.Add(lockFor))))
	if err != nil {
		return store.Factor{}, w.s.fail("record failure of "+id, notFound(err))
	}
	return f, nil
}

func (s *Store) ResetFailures(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.ResetFailures(ctx, id, now) })
}

func (w *writer) ResetFailures(ctx context.Context, id string, now time.Time) error {
	ctx = w.c(ctx)
	if w.s.namesNothing(id) {
		return w.s.fail("reset failures of "+id, store.ErrNotFound)
	}
	res, err := w.exec(ctx,
		`UPDATE factors SET failures = 0, locked_until = 0, updated_at = $2 WHERE id = $1`, id, millis(now))
	if err := changedOne(res, err); err != nil {
		return w.s.fail("reset failures of "+id, err)
	}
	return nil
}

func (s *Store) ClearFailuresUnlocked(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.ClearFailuresUnlocked(ctx, id, now) })
}

func (w *writer) ClearFailuresUnlocked(ctx context.Context, id string, now time.Time) error {
	ctx = w.c(ctx)
	const op = "clear failures of "
	if w.s.namesNothing(id) {
		return w.s.fail(op+id, store.ErrNotFound)
	}
	// The lockout test and the write are one statement, as in AdvanceCounter: a right
	// answer decided after concurrent wrong ones locked the factor does not pass.
	// So are the factor's state and its user's, as AdvanceCounter's (advanceCounter).
	q := clearFailuresUnlocked[0]
	if w.s.name == "postgres" {
		q = clearFailuresUnlocked[1]
		// Room for the time of the factor's use, which AppendAudit may add (Reviser).
		args := append(make([]any, 0, 3), id, millis(now))
		if w.assume(ctx, func() string { return clearFailuresAssumed }, args...) {
			w.cleared = args
			return nil
		}
		if err := w.lockUserOf(ctx, id); err != nil {
			return w.s.fail(op+id, err)
		}
	}
	err := changedOne(w.exec(ctx, q, id, millis(now)))
	if !errors.Is(err, store.ErrNotFound) {
		if err != nil {
			return w.s.fail(op+id, err)
		}
		return nil
	}
	var inactive bool
	switch err := w.e.QueryRow(ctx, inactiveFactorSQL, id).Scan(&inactive); {
	case errors.Is(err, sql.ErrNoRows):
		return w.s.fail(op+id, store.ErrNotFound)
	case err != nil:
		return w.s.fail(op+id, err)
	case inactive:
		return w.s.fail(op+id, store.ErrInactive)
	}
	return w.s.fail(op+id, store.ErrLocked)
}

func (s *Store) UpdateFactorSecret(ctx context.Context, id string, secret []byte, keyID string, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.UpdateFactorSecret(ctx, id, secret, keyID, now) })
}

func (w *writer) UpdateFactorSecret(ctx context.Context, id string, secret []byte, keyID string, now time.Time) error {
	ctx = w.c(ctx)
	if w.s.namesNothing(id) {
		return w.s.fail("update secret of factor "+id, store.ErrNotFound)
	}
	res, err := w.exec(ctx,
		`UPDATE factors SET secret = $2, key_id = $3, updated_at = $4 WHERE id = $1`,
		id, secret, keyID, millis(now))
	if err := changedOne(res, err); err != nil {
		return w.s.fail("update secret of factor "+id, err)
	}
	return nil
}

func (s *Store) ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.ActivateFactor(ctx, id, params, now) })
}

func (w *writer) ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error {
	ctx = w.c(ctx)
	const op = "activate factor "
	if w.s.namesNothing(id) {
		return w.s.fail(op+id, store.ErrNotFound)
	}
	p, err := encodeParams(params)
	if err != nil {
		return w.s.fail(op+id, err)
	}
	// The state test and the write are one statement: of concurrent activations, the
	// others find the factor active and change nothing.
	res, err := w.exec(ctx,
		`UPDATE factors SET state = $2, params = $3, updated_at = $4 WHERE id = $1 AND state = $5`,
		id, string(store.FactorActive), p, millis(now), string(store.FactorPending))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = w.factorNotPending(ctx, id)
		}
		return w.s.fail(op+id, err)
	}
	return nil
}

func (s *Store) UpdateFactorParams(ctx context.Context, id string, label *string, params map[string]string, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.UpdateFactorParams(ctx, id, label, params, now) })
}

func (w *writer) UpdateFactorParams(ctx context.Context, id string, label *string, params map[string]string, now time.Time) error {
	ctx = w.c(ctx)
	const op = "update params of factor "
	if w.s.namesNothing(id) {
		return w.s.fail(op+id, store.ErrNotFound)
	}
	p, err := encodeParams(params)
	if err != nil {
		return w.s.fail(op+id, err)
	}
	q, args := `UPDATE factors SET params = $2, updated_at = $3 WHERE id = $1`, []any{id, p, millis(now)}
	if label != nil {
		q, args = `UPDATE factors SET params = $2, updated_at = $3, label = $4 WHERE id = $1`, append(args, *label)
	}
	res, err := w.exec(ctx, q, args...)
	if err := changedOne(res, err); err != nil {
		return w.s.fail(op+id, err)
	}
	return nil
}

// factorNotPending explains why ActivateFactor changed nothing: ErrNotFound or ErrConflict.
func (w *writer) factorNotPending(ctx context.Context, id string) error {
	var state string
	if err := w.e.QueryRow(ctx, `SELECT state FROM factors WHERE id = $1`, id).Scan(&state); err != nil {
		return notFound(err)
	}
	return fmt.Errorf("state %s: %w", state, store.ErrConflict)
}

// factorExists returns nil if the factor exists, an error wrapping store.ErrNotFound if not.
func (w *writer) factorExists(ctx context.Context, id string) error {
	var one int
	return notFound(w.e.QueryRow(ctx, `SELECT 1 FROM factors WHERE id = $1`, id).Scan(&one))
}

func scanFactor(sc scanner) (store.Factor, error) {
	var r struct {
		factorRow
		dest [13]any
	}
	r.into(r.dest[:])
	if err := sc.Scan(r.dest[:]...); err != nil {
		return store.Factor{}, err
	}
	return r.factor()
}

// factorRow is what a read of a factor's columns (factorCols) scans into. A read embeds
// it with the destinations of its columns, and those of any it reads beside it, in one
// struct: one allocation, where each destination escaping through Scan's ...any was one,
// and the slice of them another (13 of a validation's read, issue 16). params is read as
// text: SQLite's driver gives a string, which a string takes as it is.
type factorRow struct {
	f                        store.Factor
	state, params            string
	locked, created, updated int64
}

// into points dest (13 long) at r's columns.
func (r *factorRow) into(dest []any) {
	f := &r.f
	dest[0], dest[1], dest[2], dest[3], dest[4], dest[5], dest[6] = &f.ID, &f.UserID, &f.Type, &f.Label, &r.state, &f.Secret, &f.KeyID
	dest[7], dest[8], dest[9], dest[10], dest[11], dest[12] = &r.params, &f.Counter, &f.Failures, &r.locked, &r.created, &r.updated
}

// factor is the factor r read.
func (r *factorRow) factor() (store.Factor, error) {
	f := r.f
	var err error
	if f.Params, err = decodeParams(r.params); err != nil {
		return store.Factor{}, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	f.State = store.FactorState(r.state)
	f.Secret = nilIfEmpty(f.Secret)
	f.LockedUntil, f.CreatedAt, f.UpdatedAt = fromMillis(r.locked), fromMillis(r.created), fromMillis(r.updated)
	return f, nil
}

// --- transactions ---

const txCols = `id, provider, username, capability, factor_id, status, secret, attempts, data, expires_at, created_at, updated_at`

// pending is the one status the compare-and-set operations move transactions out of.
const pending = "PENDING"

func (s *Store) CreateTransaction(ctx context.Context, t store.Transaction) error {
	return s.write(ctx, func(w *writer) error { return w.CreateTransaction(ctx, t) })
}

func (w *writer) CreateTransaction(ctx context.Context, t store.Transaction) error {
	ctx = w.c(ctx)
	// DO NOTHING rather than a unique violation: in PostgreSQL an error aborts the
	// transaction it happens in, and a unit may go on to record the refusal.
	err := w.changesOne(ctx,
		`INSERT INTO transactions (`+txCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		 ON CONFLICT (id) DO NOTHING`,
		t.ID, t.Provider, t.Username, t.Capability, t.FactorID, t.Status, t.Secret, t.Attempts, t.Data,
		millis(t.ExpiresAt), millis(t.CreatedAt), millis(t.UpdatedAt))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrExists
		}
		return w.s.fail("create transaction "+t.ID, err)
	}
	return nil
}

func (s *Store) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	return getTransaction(ctx, s, sqlExecer{s.rq}, id)
}

// GetTransaction reads through the unit, so it sees what the unit has written.
func (w *writer) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	return getTransaction(w.c(ctx), w.s, w.e, id)
}

func getTransaction(ctx context.Context, s *Store, e Execer, id string) (store.Transaction, error) {
	if s.namesNothing(id) {
		return store.Transaction{}, s.fail("get transaction "+id, store.ErrNotFound)
	}
	t, err := scanTransaction(e.QueryRow(ctx, s.rd.tx, id))
	if err != nil {
		return store.Transaction{}, s.fail("get transaction "+id, notFound(err))
	}
	return t, nil
}

func (s *Store) CompleteTransaction(ctx context.Context, id, status string, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.CompleteTransaction(ctx, id, status, now) })
}

func (w *writer) CompleteTransaction(ctx context.Context, id, status string, now time.Time) error {
	ctx = w.c(ctx)
	// The status test and the write are one statement: of concurrent completions, one
	// moves the transaction out of PENDING and the others change nothing.
	err := w.changesOne(ctx,
		`UPDATE transactions SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4`,
		id, status, millis(now), pending)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = w.notPending(ctx, id)
		}
		return w.s.fail("complete transaction "+id, err)
	}
	return nil
}

func (s *Store) CompleteTransactionIfActive(ctx context.Context, id, status, factorID string, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.CompleteTransactionIfActive(ctx, id, status, factorID, now) })
}

func (w *writer) CompleteTransactionIfActive(ctx context.Context, id, status, factorID string, now time.Time) error {
	ctx = w.c(ctx)
	// The factor's and its user's state are tested in the compare-and-set itself: a
	// delete or disable committed after the caller read them, before this statement,
	// leaves the transaction PENDING (a speculating unit assumes it does not, as
	// CompleteTransaction's does, and runs again when it did).
	q := &completeIfActive[0]
	if w.s.name == "postgres" {
		q = &completeIfActive[1]
	}
	err := w.changesOneAssumed(ctx, q.sql, q.assumed,
		id, status, millis(now), pending, factorID, string(store.FactorActive))
	if errors.Is(err, store.ErrNotFound) {
		if err = w.notPending(ctx, id); errors.Is(err, errStillPending) {
			err = fmt.Errorf("factor %s: %w", factorID, store.ErrInactive)
		}
	}
	if err != nil {
		return w.s.fail("complete transaction "+id, err)
	}
	return nil
}

// completeIfActive is CompleteTransaction's compare-and-set on the condition that factor
// $5 is $6 (active) and its user not disabled, as SQLite's one writer runs it ([0]) and
// as PostgreSQL's do ([1]): there the user's and the factor's rows are held FOR SHARE,
// in the order a change of users takes them (the user, then its factors), until the
// unit commits. Without, a delete or disable that committed while the statement waited
// for the transaction's row (another unit's) went unseen: the statement tests what was
// committed when it started, and the approval committed after the change.
var completeIfActive = [2]struct{ sql, assumed string }{completeIfActiveQuery(""), completeIfActiveQuery(" FOR SHARE OF u, f")}

func completeIfActiveQuery(lock string) struct{ sql, assumed string } {
	q := `UPDATE transactions SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4
		 AND EXISTS (SELECT 1 FROM users u JOIN factors f ON f.user_id = u.id
		             WHERE f.id = $5 AND f.state = $6 AND NOT u.disabled` + lock + `)`
	return struct{ sql, assumed string }{q, assumption(q+" RETURNING 1", "")}
}

func (s *Store) AddAttempt(ctx context.Context, id string, now time.Time) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.AddAttempt(ctx, id, now) })
}

func (w *writer) AddAttempt(ctx context.Context, id string, now time.Time) (int, error) {
	ctx = w.c(ctx)
	var n int
	err := w.e.QueryRow(ctx, addAttemptSQL, id, millis(now), pending).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		err = w.notPending(ctx, id)
	}
	if err != nil {
		return 0, w.s.fail("add attempt to transaction "+id, err)
	}
	return n, nil
}

func (s *Store) AddAttemptAfter(ctx context.Context, id string, read int, now time.Time) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.AddAttemptAfter(ctx, id, read, now) })
}

func (w *writer) AddAttemptAfter(ctx context.Context, id string, read int, now time.Time) (int, error) {
	// A speculating unit assumes the usual: no attempt counted since the caller read
	// read, so this one is read+1, sent with the rest of the unit and its COMMIT. (The
	// arguments are boxed only for an Assumer: SQLite's unit allocates nothing more.)
	if a, ok := w.e.(Assumer); ok && a.Assume(w.c(ctx), addAttemptAssumed, id, millis(now), pending, int64(read)+1) {
		return read + 1, nil
	}
	return w.AddAttempt(ctx, id, now)
}

// addAttemptSQL counts an attempt on a pending transaction and returns the new count;
// addAttemptAssumed is it as AddAttemptAfter assumes it: with that count ($4).
const addAttemptSQL = `UPDATE transactions SET attempts = attempts + 1, updated_at = $2 WHERE id = $1 AND status = $3
		 RETURNING attempts`

var addAttemptAssumed = assumption(addAttemptSQL, "r.attempts = $4")

// notPending explains why a compare-and-set on transaction id changed nothing: ErrNotFound
// or ErrConflict.
func (w *writer) notPending(ctx context.Context, id string) error {
	var status string
	if err := w.e.QueryRow(ctx, `SELECT status FROM transactions WHERE id = $1`, id).Scan(&status); err != nil {
		return notFound(err)
	}
	if status == pending {
		// Only a compare-and-set with a condition beyond the status (completeIfActiveSQL)
		// finds it so.
		return fmt.Errorf("status %s: %w", status, errStillPending)
	}
	return fmt.Errorf("status %s: %w", status, store.ErrConflict)
}

// errStillPending: a compare-and-set on a transaction changed nothing though it is PENDING.
var errStillPending = fmt.Errorf("still pending: %w", store.ErrConflict)

func (s *Store) CancelPending(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.CancelPending(ctx, factorID, keepID, status, now) })
}

func (w *writer) CancelPending(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error) {
	// An expired one is left as it is, as CancelOlder leaves it: dead, answered TIMEOUT.
	const q = `UPDATE transactions SET status = $3, updated_at = $4
		 WHERE factor_id = $1 AND id <> $2 AND status = $5 AND expires_at > $4`
	return w.cancel(ctx, q, factorID, keepID, status, now)
}

func (s *Store) CancelOlder(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.CancelOlder(ctx, factorID, keepID, status, now) })
}

func (w *writer) CancelOlder(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error) {
	// Created before: in the order the store took them (PostgreSQL's seq, SQLite's rowid,
	// which a single writer hands out in order), not by created_at, which is the clock of
	// the replica that made each one.
	q := cancelOlderSQLite
	if w.s.name == "postgres" {
		q = cancelOlderPostgres
	}
	return w.cancel(ctx, q, factorID, keepID, status, now)
}

// An expired one is left as it is: dead, answered TIMEOUT, and swept.
const (
	cancelOlderPostgres = `UPDATE transactions SET status = $3, updated_at = $4
		 WHERE factor_id = $1 AND status = $5 AND expires_at > $4
		   AND seq < (SELECT seq FROM transactions WHERE id = $2)`
	cancelOlderSQLite = `UPDATE transactions SET status = $3, updated_at = $4
		 WHERE factor_id = $1 AND status = $5 AND expires_at > $4
		   AND rowid < (SELECT rowid FROM transactions WHERE id = $2)`
)

func (s *Store) LockFactor(ctx context.Context, id string) error {
	return s.write(ctx, func(w *writer) error { return w.LockFactor(ctx, id) })
}

// factorLockClass is the first key of PostgreSQL's advisory locks of factors (LockFactor),
// apart from any other lock's.
const factorLockClass = 0x656d6661 // "emfa"

func (w *writer) LockFactor(ctx context.Context, id string) error {
	if !w.unit || w.s.g != nil || w.s.name != "postgres" {
		return nil // one unit at a time: the group's writer, or no unit at all
	}
	// Sent with the unit's next statement, and run before it.
	if err := w.e.Later(w.c(ctx), `SELECT pg_advisory_xact_lock($1, hashtext($2))`, factorLockClass, id); err != nil {
		return w.s.fail("lock factor "+id, err)
	}
	return nil
}

func (s *Store) LockUser(ctx context.Context, id string) error {
	return s.write(ctx, func(w *writer) error { return w.LockUser(ctx, id) })
}

func (w *writer) LockUser(ctx context.Context, id string) error {
	if !w.unit || w.s.g != nil || w.s.name != "postgres" {
		return nil // one unit at a time: the group's writer, or no unit at all
	}
	// Sent with the unit's next statement, and run before it. KEY SHARE, the foreign
	// key's own lock: a change of the user's state or profile (FOR NO KEY UPDATE) does
	// not wait for it; its delete does.
	if err := w.e.Later(w.c(ctx), `SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE`, id); err != nil {
		return w.s.fail("lock user "+id, err)
	}
	return nil
}

// greatest is the SQL of the greater of a and b, in the store's dialect.
func (s *Store) greatest(a, b string) string {
	if s.name == "postgres" {
		return "GREATEST(" + a + ", CAST(" + b + " AS BIGINT))"
	}
	return "max(" + a + ", " + b + ")"
}

// lockUserOf holds the row of factor id's user as LockUser does, for a write of the
// factor (ClearFailuresUnlocked's, AdvanceCounter's) in a unit that runs careful (an assumption of its speculative run did not
// hold), where a later write of the factor in the unit (a success's last use, which
// AppendAudit folds into the assumed statement otherwise) takes it after the factor's.
// Nothing to do where units run one at a time (SQLite's one writer), nor outside a unit.
func (w *writer) lockUserOf(ctx context.Context, id string) error {
	if !w.unit || w.s.g != nil || w.s.name != "postgres" {
		return nil
	}
	return w.e.Later(w.c(ctx), `SELECT 1 FROM users WHERE id = (SELECT user_id FROM factors WHERE id = $1) FOR KEY SHARE`, id)
}

// cancel runs q, a CancelPending or a CancelOlder.
func (w *writer) cancel(ctx context.Context, q, factorID, keepID, status string, now time.Time) (int, error) {
	ctx = w.c(ctx)
	args := []any{factorID, keepID, status, millis(now), pending}
	// A speculating unit assumes the usual: no older challenge is still pending.
	if w.assume(ctx, func() string { return assumedNone(q + " RETURNING 1") }, args...) {
		return 0, nil
	}
	n, err := affected(w.exec(ctx, q, args...))
	if err != nil {
		return 0, w.s.fail("cancel pending transactions of "+factorID, err)
	}
	return n, nil
}

func (s *Store) DeleteExpiredTransactions(ctx context.Context, before time.Time, limit int) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.DeleteExpiredTransactions(ctx, before, limit) })
}

func (w *writer) DeleteExpiredTransactions(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx = w.c(ctx)
	// Oldest first, so a cleaner that stops early has removed the stalest.
	n, err := w.deleteOldest(ctx, "transactions", "id", "expires_at < $1", "expires_at", millis(before), limit)
	if err != nil {
		return 0, w.s.fail("delete expired transactions", err)
	}
	return n, nil
}

func (s *Store) ListPendingTransactions(ctx context.Context, factorID string, now time.Time) ([]store.Transaction, error) {
	txs, err := query(ctx, s.rq, scanTransaction,
		`SELECT `+txCols+` FROM transactions WHERE factor_id = $1 AND status = $2 AND expires_at > $3
		 ORDER BY created_at, `+s.d.ByteOrder("id"),
		factorID, pending, millis(now))
	if err != nil {
		return nil, s.fail("list pending transactions of "+factorID, err)
	}
	return txs, nil
}

func scanTransaction(sc scanner) (store.Transaction, error) {
	var t store.Transaction
	var expires, created, updated int64
	err := sc.Scan(&t.ID, &t.Provider, &t.Username, &t.Capability, &t.FactorID, &t.Status, &t.Secret,
		&t.Attempts, &t.Data, &expires, &created, &updated)
	if err != nil {
		return store.Transaction{}, err
	}
	t.Secret, t.Data = nilIfEmpty(t.Secret), nilIfEmpty(t.Data)
	t.ExpiresAt, t.CreatedAt, t.UpdatedAt = fromMillis(expires), fromMillis(created), fromMillis(updated)
	return t, nil
}

// --- send limits ---

func (s *Store) ReserveSend(ctx context.Context, keys []string, limits []store.SendLimit, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.ReserveSend(ctx, keys, limits, now) })
}

func (w *writer) ReserveSend(ctx context.Context, keys []string, limits []store.SendLimit, now time.Time) error {
	ctx = w.c(ctx)
	keys, err := sendKeys(keys, limits)
	if err != nil {
		return w.s.fail("reserve send", err)
	}
	if len(keys) == 0 {
		return nil
	}
	// Lock, count, insert in one transaction: no row exists to lock before a key's first
	// send, so the dialect locks the keys themselves, and each count then sees every send
	// committed by an earlier holder.
	err = w.inUnit(ctx, func(e Execer) error {
		if err := w.s.d.LockKeys(ctx, e, keys); err != nil {
			return err
		}
		if err := countSends(ctx, e, keys, limits, now); err != nil {
			return err
		}
		return insertSends(ctx, e, keys, now)
	})
	if err != nil {
		return w.s.fail("reserve send", err)
	}
	return nil
}

// countSends returns ErrRateLimited if a key has reached a limit. One statement counts
// under every key and limit, so it costs one round trip however many there are; each count
// stops at Max, so a flood under one key costs no more than the limit.
func countSends(ctx context.Context, e Execer, keys []string, limits []store.SendLimit, now time.Time) error {
	if len(limits) == 0 {
		return nil
	}
	type check struct {
		key   string
		limit store.SendLimit
	}
	var checks []check
	var counts []string
	var args []any
	for _, key := range keys {
		for _, l := range limits {
			n := len(args)
			counts = append(counts, fmt.Sprintf(
				`(SELECT count(*) FROM (SELECT 1 FROM sends WHERE key = $%d AND at > $%d LIMIT $%d) s)`, n+1, n+2, n+3))
			args = append(args, key, millis(now.Add(-l.Window)), l.Max)
			checks = append(checks, check{key, l})
		}
	}
	got := make([]int, len(checks))
	dest := make([]any, len(checks))
	for i := range got {
		dest[i] = &got[i]
	}
	if err := e.QueryRow(ctx, `SELECT `+strings.Join(counts, ", "), args...).Scan(dest...); err != nil {
		return err
	}
	var refused *store.RateLimitError
	for i, c := range checks {
		if got[i] < c.limit.Max {
			continue
		}
		// Refused: when would it not be? Once the Max-th newest send under the key has
		// left this window (one more query, on a refusal only); for every limit reached,
		// so the latest of them.
		var retry time.Time
		if c.limit.Max > 0 {
			var t int64
			if err := e.QueryRow(ctx, `SELECT at FROM sends WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3`,
				c.key, millis(now.Add(-c.limit.Window)), c.limit.Max-1).Scan(&t); err != nil {
				return err
			}
			retry = fromMillis(t).Add(c.limit.Window)
		}
		switch {
		case refused == nil:
			refused = &store.RateLimitError{Key: c.key, Limit: c.limit, RetryAt: retry}
		case refused.RetryAt.IsZero():
		case retry.IsZero() || retry.After(refused.RetryAt):
			refused.Key, refused.Limit, refused.RetryAt = c.key, c.limit, retry
		}
	}
	if refused != nil {
		return refused
	}
	return nil
}

// insertSends records one send at now under each key, in one statement.
func insertSends(ctx context.Context, e Execer, keys []string, now time.Time) error {
	rows := make([]string, len(keys))
	args := make([]any, 0, len(keys)+1)
	args = append(args, millis(now))
	for i, key := range keys {
		rows[i] = fmt.Sprintf("($%d, $1)", i+2)
		args = append(args, key)
	}
	_, err := e.Exec(ctx, `INSERT INTO sends (key, at) VALUES `+strings.Join(rows, ", "), args...)
	return err
}

func (s *Store) DeleteSendsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.DeleteSendsBefore(ctx, before, limit) })
}

func (w *writer) DeleteSendsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx = w.c(ctx)
	n, err := w.deleteOldest(ctx, "sends", "", "at < $1", "at", millis(before), limit)
	if err != nil {
		return 0, w.s.fail("delete sends", err)
	}
	return n, nil
}

func (s *Store) DeleteSends(ctx context.Context, key string) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.DeleteSends(ctx, key) })
}

func (w *writer) DeleteSends(ctx context.Context, key string) (int, error) {
	ctx = w.c(ctx)
	res, err := w.exec(ctx, `DELETE FROM sends WHERE key = $1`, key)
	if err != nil {
		return 0, w.s.fail("delete sends", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, w.s.fail("delete sends", err)
	}
	return int(n), nil
}

// sendKeys checks limits and returns keys sorted without duplicates: a key named twice is
// one send under it, not two, and sorted is the order LockKeys takes them in, so two
// reservations sharing keys cannot deadlock.
func sendKeys(keys []string, limits []store.SendLimit) ([]string, error) {
	for _, l := range limits {
		if l.Window <= 0 || l.Max < 0 {
			return nil, fmt.Errorf("invalid limit of %d per %v", l.Max, l.Window)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(keys))), nil
}

// --- nonces ---

func (s *Store) UseNonce(ctx context.Context, scope, nonce string, expires, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.UseNonce(ctx, scope, nonce, expires, now) })
}

func (w *writer) UseNonce(ctx context.Context, scope, nonce string, expires, now time.Time) error {
	ctx = w.c(ctx)
	// One statement: of concurrent uses the first inserts; the rest find its row (waiting
	// for it to commit, in PostgreSQL), and its unexpired expires_at fails the WHERE, so
	// they change nothing.
	res, err := w.exec(ctx,
		`INSERT INTO nonces (scope, nonce, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (scope, nonce) DO UPDATE SET expires_at = excluded.expires_at
		 WHERE nonces.expires_at <= $4`,
		scope, nonce, millis(expires), millis(now))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrReplay
		}
		return w.s.fail("use nonce in scope "+scope, err)
	}
	return nil
}

func (s *Store) DeleteExpiredNonces(ctx context.Context, before time.Time, limit int) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.DeleteExpiredNonces(ctx, before, limit) })
}

func (w *writer) DeleteExpiredNonces(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx = w.c(ctx)
	n, err := w.deleteOldest(ctx, "nonces", "scope, nonce", "expires_at <= $1", "expires_at", millis(before), limit)
	if err != nil {
		return 0, w.s.fail("delete expired nonces", err)
	}
	return n, nil
}

// --- audit ---

const auditCols = `time, request_id, provider, username, capability, factor_id, resource, outcome, reason, webhook_id, actor`

// defaultAuditLimit applies when AuditFilter.Limit <= 0.
const defaultAuditLimit = 100

func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	return s.write(ctx, func(w *writer) error { return w.AppendAudit(ctx, e) })
}

func (w *writer) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	ctx = w.c(ctx)
	// A successful use is also recorded on the factor's own row (a page the unit has
	// usually just changed), where LastUsed reads it: in the same statement where the
	// dialect lets one statement write twice.
	const insert = `INSERT INTO audit (` + auditCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	const use = `UPDATE factors SET last_used_at = $1 WHERE id = $6 AND last_used_at < $1`
	q, twice := insert, false
	advanced, by, cleared := w.advanced, w.advancedBy, w.cleared
	w.advanced, w.advancedBy, w.audited, w.auditedBy, w.cleared = nil, nil, nil, nil, nil
	args := []any{millis(e.Time), e.RequestID, e.Provider, e.Username, e.Capability, e.FactorID, e.Resource, e.Outcome, e.Reason, e.WebhookID, e.Actor}
	if recordsUse(e) && (e.FactorID != w.used || millis(e.Time) > w.usedAt) {
		if a, ok := w.e.(Amender); ok && advanced != nil && advanced[0] == e.FactorID && by.audited != "" {
			// Room for the claim of the answer's record, which may follow (recorded).
			audited := append(append(make([]any, 0, len(advanced)+len(args)+recordArgs), advanced...), args...)
			if a.Amend(by.assumed, by.audited, audited...) {
				// The audit row too, in the same statement (advanceCounterSQL.audited).
				w.audited, w.auditedBy = audited, by
				return nil
			}
		}
		if a, ok := w.e.(Amender); ok && advanced != nil && advanced[0] == e.FactorID &&
			a.Amend(by.assumed, by.used, append(advanced, args[0])...) {
			// The factor's row is written once: a second UPDATE of a row its own
			// transaction wrote has PostgreSQL check factors.user_id's foreign key again,
			// a SELECT … FOR KEY SHARE that writes a lock on the user's row.
		} else if r, ok := w.e.(Reviser); ok && cleared != nil && cleared[0] == e.FactorID &&
			r.Revise(clearFailuresAssumed, clearFailuresUsed, append(cleared, args[0])...) {
			// The same, for a challenge's right answer (clearFailuresUsed).
		} else if w.s.d.WritesInWith() {
			q = `WITH u AS (` + use + `) ` + insert
		} else {
			twice = true
		}
	}
	if err := w.e.Later(ctx, q, args...); err != nil {
		return w.s.fail("append audit", err)
	}
	if twice {
		if err := w.e.Later(ctx, use, args...); err != nil {
			return w.s.fail("append audit", err)
		}
	}
	return nil
}

// recordsUse reports whether an audit event records a factor's successful use: a sign-in
// through Verify (validate, result) or on the self-service page (its session's record).
func recordsUse(e store.AuditEvent) bool {
	return e.FactorID != "" && e.Outcome == "SUCCESS" &&
		(e.Resource == "validate" || e.Resource == "result" || e.Resource == store.ResourceSelfServiceSignIn)
}

func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	if s.namesNothing(f.Username) {
		return []store.AuditEvent{}, nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	var events []store.AuditEvent
	var err error
	if f.Username == "" {
		events, err = query(ctx, s.rq, scanAudit,
			`SELECT `+auditCols+` FROM audit ORDER BY time DESC, id DESC LIMIT $1`, limit)
	} else {
		events, err = query(ctx, s.rq, scanAudit,
			`SELECT `+auditCols+` FROM audit WHERE lower(username) = $1 ORDER BY time DESC, id DESC LIMIT $2`,
			store.FoldName(f.Username), limit)
	}
	if err != nil {
		return nil, s.fail("list audit", err)
	}
	return events, nil
}

func (s *Store) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return result(ctx, s, func(w *writer) (int, error) { return w.DeleteAuditBefore(ctx, before, limit) })
}

func (w *writer) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx = w.c(ctx)
	// By the whole of PostgreSQL's key (migration 26), which no index has id leading.
	n, err := w.deleteOldest(ctx, "audit", "time, id", "time < $1", "time", millis(before), limit)
	if err != nil {
		return 0, w.s.fail("delete audit", err)
	}
	return n, nil
}

func scanAudit(sc scanner) (store.AuditEvent, error) {
	var e store.AuditEvent
	var t int64
	err := sc.Scan(&t, &e.RequestID, &e.Provider, &e.Username, &e.Capability, &e.FactorID, &e.Resource, &e.Outcome, &e.Reason, &e.WebhookID, &e.Actor)
	if err != nil {
		return store.AuditEvent{}, err
	}
	e.Time = fromMillis(t)
	return e, nil
}

// --- helpers ---

// fail wraps err with the backend's name and the operation, and the dialect's hint, as
// every error leaves a method.
func (s *Store) fail(op string, err error) error {
	s.faults.wrote(err) // a storage fault, if it is one, wherever it came from
	if h := s.d.Hint(err); h != "" {
		return fmt.Errorf("%s: %s: %w (%s)", s.name, op, err, h)
	}
	return fmt.Errorf("%s: %s: %w", s.name, op, err)
}

// deleteOldest runs the dialect's DeleteOldest on table with before as $1 and limit as $2,
// and returns how many rows it deleted.
func (w *writer) deleteOldest(ctx context.Context, table, key, where, order string, before int64, limit int) (int, error) {
	if limit <= 0 {
		// A caller looping "until it returns < limit" would never stop.
		return 0, fmt.Errorf("limit %d is not positive", limit)
	}
	res, err := w.exec(ctx, w.s.d.DeleteOldest(table, key, where, order), before, limit)
	return affected(res, err)
}

// inUnit runs fn's statements as one transaction: w's unit's, or, for a write on the pool,
// a unit of its own.
func (w *writer) inUnit(ctx context.Context, fn func(e Execer) error) error {
	if w.unit {
		return fn(w.e)
	}
	return w.s.unit(ctx, func(u *writer) error { return fn(u.e) })
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// query runs q on db and scans every row with scan.
func query[T any](ctx context.Context, db querier, scan func(scanner) (T, error), q string, args ...any) (out []T, err error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	out = []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// notFound turns sql.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// affected returns how many rows an Exec changed.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// changesOne runs q, a statement that changes at most one row (a compare-and-set), and
// returns store.ErrNotFound when it changed none. A speculating unit (Assumer) assumes it
// changes one, and sends it with the unit's COMMIT.
func (w *writer) changesOne(ctx context.Context, q string, args ...any) error {
	if w.assume(ctx, func() string { return assumption(q+" RETURNING 1", "") }, args...) {
		return nil
	}
	return changedOne(w.exec(ctx, q, args...))
}

// changesOneAssumed is changesOne for a q whose statement as a speculating unit sends it,
// assumed, is built once rather than on each call.
func (w *writer) changesOneAssumed(ctx context.Context, q, assumed string, args ...any) error {
	if w.assume(ctx, func() string { return assumed }, args...) {
		return nil
	}
	return changedOne(w.exec(ctx, q, args...))
}

// advanceCounter is AdvanceCounter's compare-and-set, on every successful OTP
// validation, as SQLite's one writer runs it ([0]) and as PostgreSQL's do ([1]), with
// the statement as changesOne would assume it. The factor's state and its user's are
// tested in it, not only when the validate read them: a disable committed between that
// read and this statement let the code through. (A disable of the factor that commits
// while the statement waits for the factor's row is seen too: PostgreSQL re-tests the row
// it waited for; one of the user, through activeFactor's lock.)
var advanceCounter = [2]advanceCounterSQL{
	advanceCounterQuery(activeFactor[0], false), advanceCounterQuery(activeFactor[1], true),
}

// advanceCounterSQL is AdvanceCounter's statement, as it is sent and as a unit that may
// run it later assumes it; used is assumed that also records the factor's successful use
// at $4, as AppendAudit's UPDATE of last_used_at would (a successful use is recorded with
// the counter in one UPDATE; see Amender). PostgreSQL's ([1]) are as an Assumer runs them
// (assumption); SQLite's ([0]) are plain statements that change one row, as its group
// writer runs them (batchExecer).
//
// audited, PostgreSQL's only, is used with the audit row of the use inserted by the same
// statement, in a data-modifying CTE ($4 its time, $5–$14 its other columns, in
// auditCols' order): a statement of its own cost the server a portal, a snapshot, an
// executor's start and end and an answer on every validation. It commits or rolls back
// with the compare-and-set, as the audit row queued after it did.
//
// recorded, PostgreSQL's only, is audited with the claim of the answer's record as
// RecordIdempotency assumes it (recordIdempotencyAssumed: a plain INSERT in a third
// data-modifying CTE, no other fingerprint), its arguments $15–$23 in that statement's
// order: a validation with an X-Webhook-ID decides in one statement, where the claim's
// own cost the server about 23k instructions of ~490k a validation (its Bind, portal,
// snapshot, executor's start and end, answer), and pgx 9 allocations. The statement
// fails, and the unit is decided again a statement at a time, when either assumption
// does not hold: division by zero for a replay, a lockout, a disabled factor or an ID
// recorded under another fingerprint, a unique violation for an ID recorded already.
// One thing it sees otherwise: its probe for another fingerprint reads the statement's
// snapshot, taken before the compare-and-set waited for the factor's row, where the
// claim's own statement took one after that wait. A record of the ID under another
// fingerprint committed during the wait (another request reusing the X-Webhook-ID, on the
// same factor) is not told (OtherFingerprint: a warning in the log), as one committed
// between any claim's snapshot and its insert never was.
type advanceCounterSQL struct{ sql, assumed, used, audited, recorded string }

// recordArgs is how many arguments recordIdempotencySQL takes.
const recordArgs = 9

func advanceCounterQuery(active string, postgres bool) advanceCounterSQL {
	q := `UPDATE factors SET counter = $2, failures = 0, locked_until = 0, updated_at = $3
		 WHERE id = $1 AND counter < $2 AND (locked_until = 0 OR locked_until <= $3)` + active
	if !postgres {
		used := strings.Replace(q, "updated_at = $3", "updated_at = $3, last_used_at = max(last_used_at, $4)", 1)
		return advanceCounterSQL{q, q, used, "", ""}
	}
	used := strings.Replace(q, "updated_at = $3", "updated_at = $3, last_used_at = GREATEST(last_used_at, CAST($4 AS BIGINT))", 1)
	audit := "WITH a AS (INSERT INTO audit (" + auditCols + ") VALUES ($4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)), "
	audited := audit + strings.TrimPrefix(assumption(used+" RETURNING 1", ""), "WITH ")
	recorded := audit + "r AS (" + used + " RETURNING 1), i AS (" + shiftParams(plainInsert(recordIdempotencySQL), 14) +
		") SELECT 1/(EXISTS (SELECT FROM r) AND NOT EXISTS (" + shiftParams(otherFingerprintProbe, 14) + "))::int"
	return advanceCounterSQL{q, assumption(q+" RETURNING 1", ""), assumption(used+" RETURNING 1", ""), audited, recorded}
}

// shiftParams is q with each of its parameters $n renumbered $n+by.
func shiftParams(q string, by int) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		b.WriteByte(q[i])
		if q[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(q[i+1 : j]); err == nil {
			b.WriteString(strconv.Itoa(n + by))
			i = j - 1
		}
	}
	return b.String()
}

// clearFailuresUnlocked is ClearFailuresUnlocked's statement, SQLite's ([0]) and
// PostgreSQL's ([1]).
var clearFailuresUnlocked = [2]string{clearFailuresUnlockedSQL + activeFactor[0], clearFailuresUnlockedSQL + activeFactor[1]}

// clearFailuresAssumed is PostgreSQL's clearFailuresUnlocked as a speculating unit sends
// it (changesOne); clearFailuresUsed is that which also records the factor's successful
// use at $3, as AppendAudit's UPDATE of last_used_at would: a challenge's right answer
// (a texted or mailed code, a question's) clears the failures, then its audit row records
// the use, and the factor's row is written once (Reviser). A second UPDATE of a row its
// own transaction wrote has PostgreSQL check factors.user_id's foreign key again, FOR KEY
// SHARE on the user's row after the factor's: the order a delete of the user takes them
// the other way round (40P01), and a statement the server binds and runs on every such
// sign-in.
var clearFailuresAssumed, clearFailuresUsed = assumption(clearFailuresUnlocked[1]+" RETURNING 1", ""),
	assumption(strings.Replace(clearFailuresUnlocked[1], "updated_at = $2",
		"updated_at = $2, last_used_at = GREATEST(last_used_at, CAST($3 AS BIGINT))", 1)+" RETURNING 1", "")

const clearFailuresUnlockedSQL = `UPDATE factors SET failures = 0, locked_until = 0, updated_at = $2
		 WHERE id = $1 AND (locked_until = 0 OR locked_until <= $2)`

// activeFactor is the condition on an UPDATE of factors that the factor is not disabled
// nor its user, as SQLite's one writer tests it ([0]) and PostgreSQL's ([1]). On
// PostgreSQL the user's flag is tested on the factor's row only (user_disabled, which
// the database keeps: migrations 21 and 24, whose triggers copy every change of
// users.disabled, however made, to the user's factors in its own transaction, and give a
// factor inserted or moved its user's): a sub-select on users kept as a second test
// planned an anti-join and probed users' key on every validation, about 30 µs of the
// server's ~360, for the flag the row holds. A sub-select on users alone would not do: a
// statement that waited for the factor's row (another unit's: a concurrent attempt)
// tests that row as it is now, but users as they were when the statement started, and a
// disable of the user that committed during the wait went unseen: the code passed after
// the disable had returned. A disable writes the user's factors, so it either waits for
// the decision or the decision sees it. (Holding the user's row FOR SHARE did the same at
// a lock, a WAL record and a dirtied page of users per decision.) inactiveFactorSQL
// tells, of factor $1 that such an UPDATE left alone, whether that was why.
var activeFactor = [2]string{
	activeFactorState + `
		 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = factors.user_id AND u.disabled)`,
	activeFactorState + ` AND NOT user_disabled`,
}

const (
	activeFactorState = `
		 AND state <> '` + string(store.FactorDisabled) + `'`
	inactiveFactorSQL = `SELECT f.state = '` + string(store.FactorDisabled) + `' OR u.disabled
		 FROM factors f JOIN users u ON u.id = f.user_id WHERE f.id = $1`
)

// assume queues the statement assumed() returns when w's unit speculates (Assumer), and
// reports whether it did: then the writer goes on as if that statement had its usual
// result. The statement is built only for a unit that may speculate.
func (w *writer) assume(ctx context.Context, assumed func() string, args ...any) bool {
	a, ok := w.e.(Assumer)
	return ok && a.Assume(ctx, assumed(), args...)
}

// changedOne turns "no row matched" into store.ErrNotFound.
func changedOne(res sql.Result, err error) error {
	n, err := affected(res, err)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// millis is how times are stored: unix milliseconds, 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// encodeParams returns the JSON for the params column. It is a string because SQLite's
// STRICT text column refuses a blob; pgx sends a string to a jsonb parameter unchanged.
func encodeParams(p map[string]string) (string, error) {
	if len(p) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode params: %w", err)
	}
	return string(b), nil
}

// decodeParams reads a params column. The object encodeParams writes for a factor, its
// keys and values plain ASCII, is read by decodeFlatParams in one pass (a factor's read
// on every contract call decoded it with encoding/json: ten allocations for three
// parameters); anything else, and anything malformed, is encoding/json's to read.
func decodeParams(b string) (map[string]string, error) {
	if p, ok := decodeFlatParams(b); ok {
		return p, nil
	}
	var p map[string]string
	if err := json.Unmarshal([]byte(b), &p); err != nil {
		return nil, fmt.Errorf("decode params: %w", err)
	}
	if len(p) == 0 {
		return nil, nil
	}
	return p, nil
}

// decodeFlatParams is json.Unmarshal of b into a map[string]string, nil when empty, for
// a JSON object whose keys and values are strings of printable ASCII with no escape
// (JSON's whitespace allowed between tokens); ok is false for any other b. The keys and
// values are slices of s, not a copy each.
func decodeFlatParams(s string) (p map[string]string, ok bool) {
	i := skipJSONSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		return nil, false
	}
	if i = skipJSONSpace(s, i+1); i < len(s) && s[i] == '}' {
		return nil, skipJSONSpace(s, i+1) == len(s)
	}
	for {
		k, j, ok := plainJSONString(s, i)
		if !ok {
			return nil, false
		}
		if i = skipJSONSpace(s, j); i == len(s) || s[i] != ':' {
			return nil, false
		}
		v, j, ok := plainJSONString(s, skipJSONSpace(s, i+1))
		if !ok {
			return nil, false
		}
		if p == nil {
			p = make(map[string]string, 4)
		}
		p[k] = v // a repeated key: the last wins, as with Unmarshal
		if i = skipJSONSpace(s, j); i == len(s) {
			return nil, false
		}
		switch s[i] {
		case ',':
			i = skipJSONSpace(s, i+1)
		case '}':
			return p, skipJSONSpace(s, i+1) == len(s)
		default:
			return nil, false
		}
	}
}

// plainJSONString reads the string at s[i:] if it is printable ASCII with no escape: its
// text and the index after its closing quote.
func plainJSONString(s string, i int) (text string, end int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return "", 0, false
		}
	}
	return "", 0, false
}

func skipJSONSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
