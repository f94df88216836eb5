package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

var _ sqlstore.UnitRunner = dialect{}
var _ sqlstore.Amender = (*unit)(nil)
var _ sqlstore.Reviser = (*unit)(nil)

// RunUnit runs a unit (store.Store.Update) on one connection's pgx.Conn, pipelined: BEGIN
// goes out with the unit's first statement, and the statements it runs Later (its audit
// row) with the next one, or with COMMIT. The statements stay prepared: pgx's statement
// cache serves a batch as it serves a single statement.
//
// The unit runs speculatively first (sqlstore.Assumer): a compare-and-set or an
// idempotency claim, whose result the unit needs before it goes on, is sent with the rest
// as a statement that fails unless it had the usual result, and the unit goes on as if it
// had. A decision (the compare-and-set, its audit row, the claim of its answer's record)
// is then one round trip with its COMMIT, where waiting for each result cost three
// (issue 16). When an assumption does not hold (a replayed code, a retry that another
// attempt recorded), the transaction aborts with it, nothing of it commits, and fn runs
// again on the same connection, each result awaited. A unit PostgreSQL aborts as a
// deadlock's victim runs again (deadlockRuns).
func (d dialect) RunUnit(ctx context.Context, db *sql.DB, fn func(e sqlstore.Execer) error) error {
	for run := 1; ; run++ {
		err := d.runUnit(ctx, db, fn)
		// err first: sqlState's errors.As moves its target to the heap, an allocation.
		if err == nil || sqlState(err) != deadlockDetected || run == deadlockRuns || ctx.Err() != nil {
			return err
		}
	}
}

// deadlockRuns is how many times a unit runs that PostgreSQL keeps aborting as a
// deadlock's victim (40P01): aborted, it committed nothing, and runs again, as
// PostgreSQL's manual advises, rather than answer its caller a fault for a change that
// goes through a moment later (an activation racing its user's deletion: each held a row
// the other waited for).
const deadlockRuns = 3

// runUnit is one run of RunUnit.
func (d dialect) runUnit(ctx context.Context, db *sql.DB, fn func(e sqlstore.Execer) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: update: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		err := run(ctx, newUnit(c, store.SyncDeferred(ctx), true, d.unprepared), fn)
		if errors.Is(err, errAssumed) {
			err = run(ctx, newUnit(c, store.SyncDeferred(ctx), false, d.unprepared), fn)
		}
		return err
	})
}

// errAssumed: an assumed result did not hold, and the speculative unit rolled back. An
// assumed statement says so by dividing by zero, or, an INSERT assuming its key is new
// (sqlstore's idempotency claims), by a unique violation: either way the careful run
// runs the statement as it is meant, and reports any error of its own.
var errAssumed = errors.New("postgres: an assumed result did not hold")

// run runs fn as unit u and commits it, or rolls it back. It returns errAssumed when u
// rolled back because an assumption did not hold, whatever fn made of the error it saw,
// or when fn failed with assumptions not sent yet: its error may come of one that does
// not hold, on a path the careful run does not take.
func run(ctx context.Context, u *unit, fn func(e sqlstore.Execer) error) error {
	defer func() {
		if r := recover(); r != nil {
			u.rollback(ctx)
			panic(r)
		}
	}()
	if err := fn(u); err != nil || u.wrong {
		u.rollback(ctx)
		if u.wrong || len(u.assumed) > 0 {
			return errAssumed
		}
		return err
	}
	if err := u.commitDetached(ctx); err != nil {
		u.rollback(ctx)
		if u.wrong {
			return errAssumed
		}
		return fmt.Errorf("postgres: update: commit: %w", err)
	}
	return nil
}

// unit is the Execer of one RunUnit.
type unit struct {
	c *pgx.Conn
	b *pgx.Batch // to go out with the next statement: BEGIN, Later's, Assume's
	// batches are b, in turn: the one sent last stays with its results, which its
	// caller reads and closes before the next send (pgx's rule), while the next is
	// queued in the other. Each holds its first statements in its own arrays (queue),
	// where a Batch, its slice and a QueuedQuery per statement were each an allocation.
	batches [2]unitBatch
	turn    int
	begun   bool // BEGIN is queued or sent
	sent    bool // something went out: a transaction may be open on c
	// deferred: the unit commits without waiting for its WAL flush (store.DeferSync); a
	// later synchronous commit of its caller flushes it with its own, WAL being in order.
	deferred bool
	// speculate: Assume queues its statement (sqlstore.Assumer); assumed holds their
	// positions in b, and wrong is set when one of them failed its assumption.
	speculate  bool
	assumed    []int
	assumedBuf [4]int // assumed's first, in the unit's own allocation
	wrong      bool
	// framing: the statements of the speculative protocol queued in b (BEGIN, SET LOCAL,
	// the assumed ones, COMMIT), prepared by name before b goes out (prepareFraming).
	framing []string
	buf     [6]string // framing's, in the unit's own allocation
	// unprepared: the DSN's default_query_exec_mode prepares nothing (dialect.unprepared).
	unprepared bool
	detached   detachedCtx // the COMMIT's context (commitDetached)
}

// unitBatch is a batch of a unit, with room for its first statements.
type unitBatch struct {
	b   pgx.Batch
	qs  [8]*pgx.QueuedQuery
	buf [8]pgx.QueuedQuery
}

func newUnit(c *pgx.Conn, deferred, speculate, unprepared bool) *unit {
	u := &unit{c: c, deferred: deferred, speculate: speculate, unprepared: unprepared}
	u.next()
	return u
}

// next makes the other of u's batches, emptied, the one statements are queued in.
func (u *unit) next() {
	u.turn ^= 1
	ub := &u.batches[u.turn]
	ub.b.QueuedQueries = ub.qs[:0]
	u.b = &ub.b
	u.assumed = u.assumedBuf[:0]
}

// queue queues q in b as pgx.Batch.Queue does, in the batch's own arrays while they
// have room. A QueuedQuery is made anew, as pgx remembers its prepared statement in it.
func (u *unit) queue(q string, args ...any) {
	ub := &u.batches[u.turn]
	n := len(ub.b.QueuedQueries)
	if n >= len(ub.buf) {
		u.b.Queue(q, args...)
		return
	}
	ub.buf[n] = pgx.QueuedQuery{SQL: q, Arguments: args}
	ub.b.QueuedQueries = append(ub.b.QueuedQueries, &ub.buf[n])
}

// begin queues BEGIN before the unit's first statement.
func (u *unit) begin() {
	if !u.begun {
		u.queue("BEGIN")
		u.framing = append(u.buf[:0], "BEGIN")
		if u.deferred {
			u.queue(setNoSync)
			u.framing = append(u.framing, setNoSync)
		}
		u.begun = true
	}
}

const setNoSync = "SET LOCAL synchronous_commit TO off"

// prepareFraming prepares the framing statements queued in b by name, where they were
// not already (the first unit on a connection): pgx takes a batch in which a statement
// failed for one that went wrong, and drops every statement of it from its statement
// cache, to prepare them again on their next use, each a parse and a plan on the server
// in a round trip hidden in the next batch. A failed assumption is such a batch: before,
// every replayed code, lost claim or SMS code that withdrew an earlier one re-prepared
// five statements. Statements prepared by name stay. They are fixed strings, none of
// them SELECT *, so a schema change cannot change their result's type. A DSN that sets
// another default_query_exec_mode (simple_protocol, behind a pooler that cannot keep
// prepared statements) has none prepared.
func (u *unit) prepareFraming(ctx context.Context) error {
	if u.unprepared {
		u.framing = u.framing[:0]
		return nil
	}
	for _, q := range u.framing {
		if _, err := u.c.Prepare(ctx, q, q); err != nil {
			return err
		}
	}
	u.framing = u.framing[:0]
	return nil
}

// send sends the queued statements then q, reads the results of the queued ones, and
// returns the batch positioned at q's result, which the caller reads and closes.
func (u *unit) send(ctx context.Context, q string, args ...any) (pgx.BatchResults, error) {
	u.queue(q, args...)
	return u.sendBatch(ctx, 1)
}

// sendBatch sends the queued statements and reads the results of all but the last
// unread of them, returning the batch positioned at the first of those.
func (u *unit) sendBatch(ctx context.Context, unread int) (pgx.BatchResults, error) {
	if err := u.prepareFraming(ctx); err != nil {
		return nil, err
	}
	// assumed shares assumedBuf with the next batch's, which nothing queues in before
	// the results below are read.
	queued, assumed := u.b.Len()-unread, u.assumed
	br := u.c.SendBatch(ctx, u.b)
	u.next()
	u.sent = true
	for i := range queued {
		if _, err := br.Exec(); err != nil {
			if slices.Contains(assumed, i) && (sqlState(err) == divisionByZero || sqlState(err) == uniqueViolation) {
				u.wrong = true
				err = fmt.Errorf("%w: %w", errAssumed, err)
			}
			return nil, errors.Join(err, br.Close())
		}
	}
	return br, nil
}

func (u *unit) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	u.begin()
	br, err := u.send(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (u *unit) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	u.begin()
	br, err := u.send(ctx, q, args...)
	if err != nil {
		return errRow{err}
	}
	return batchRow{br}
}

func (u *unit) Later(_ context.Context, q string, args ...any) error {
	u.begin()
	u.queue(q, args...)
	return nil
}

// Assume queues q, whose failure is an assumption that did not hold (sqlstore.Assumer),
// when the unit is speculating.
func (u *unit) Assume(_ context.Context, q string, args ...any) bool {
	if !u.speculate {
		return false
	}
	u.begin()
	u.assumed = append(u.assumed, u.b.Len())
	u.queue(q, args...)
	u.framing = append(u.framing, q)
	return true
}

// Amend replaces the statement queued last, when it is an assumed one whose text is was,
// with q and args (sqlstore.Amender): nothing of it has gone out yet.
func (u *unit) Amend(was, q string, args ...any) bool {
	last := u.b.Len() - 1
	if last < 0 || len(u.assumed) == 0 || u.assumed[len(u.assumed)-1] != last ||
		u.b.QueuedQueries[last].SQL != was || len(u.framing) == 0 || u.framing[len(u.framing)-1] != was {
		return false
	}
	u.b.QueuedQueries[last].SQL, u.b.QueuedQueries[last].Arguments = q, args
	u.framing[len(u.framing)-1] = q
	return true
}

// Revise replaces the last queued assumed statement whose text is was, with q and args
// (sqlstore.Reviser): nothing of it has gone out yet.
func (u *unit) Revise(was, q string, args ...any) bool {
	for k := len(u.assumed) - 1; k >= 0; k-- {
		i := u.assumed[k]
		if i >= u.b.Len() || u.b.QueuedQueries[i].SQL != was {
			continue
		}
		// Its text in framing too, which holds each assumed statement's: the last of was.
		for j := len(u.framing) - 1; j >= 0; j-- {
			if u.framing[j] == was {
				u.framing[j] = q
				u.b.QueuedQueries[i].SQL, u.b.QueuedQueries[i].Arguments = q, args
				return true
			}
		}
		return false
	}
	return false
}

// commitDetached commits u (commit) unless ctx has ended already, and once its COMMIT
// goes out, awaits the answer whatever ctx does, within commitWait. pgx cut that wait
// short when ctx ended meanwhile (a request's deadline): the caller was told "context
// canceled" of a unit the server had committed, a decision answered as an error while its
// code was spent and its SUCCESS in the audit trail. A caller whose unit went out is told
// what became of it, as SQLite's group commit tells a unit that entered a batch.
func (u *unit) commitDetached(ctx context.Context) error {
	if !u.begun {
		return nil // nothing to commit (commit)
	}
	if ctx.Done() == nil {
		return u.commit(ctx) // nothing ends it: no context of its own to allocate
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Bounded by the connection's deadline rather than a context's timeout: a context
	// that can end has pgx watch it (a goroutine), and a timeout cost 8 more allocations
	// a decision (measured).
	// The caller's deadline, and the time a write outliving its request is told it may
	// take (the request answers 503 then): the statements queued with the COMMIT (a
	// decision's, an import's 500 users) are work the caller's deadline governs, not
	// commitWait. A context without one (ended only by a cancelation) gets commitWait.
	limit := time.Now().Add(commitWait)
	if d, ok := ctx.Deadline(); ok {
		limit = d.Add(sqlstore.AnswerGrace)
	}
	pc := u.c.PgConn()
	_ = pc.Conn().SetDeadline(limit)
	defer func() {
		// Not on a connection pgx found broken (the deadline passed): its close, in a
		// goroutine of its own, bounds the drain of what the server still sends with a
		// deadline of its own, which a clear landing after it would lift, leaving the
		// goroutine and the socket waiting on a silent database.
		if !pc.IsClosed() {
			_ = pc.Conn().SetDeadline(time.Time{})
		}
	}()
	u.detached = detachedCtx{ctx}
	return u.commit(&u.detached)
}

// detachedCtx is a context's values without its cancelation, as context.WithoutCancel
// makes it, held in its unit rather than allocated (commitDetached).
type detachedCtx struct{ context.Context }

func (*detachedCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detachedCtx) Done() <-chan struct{}       { return nil }
func (*detachedCtx) Err() error                  { return nil }

// commitWait bounds the wait for a COMMIT's answer once it went out (commitDetached) when
// its caller's context has no deadline (with one: sqlstore.AnswerGrace past it): a live
// database answers at once; one that stopped answering leaves the outcome unknown, and
// the caller is told an error after it rather than held forever.
var commitWait = 10 * time.Second // a variable for a test's silent database

// commit sends what is queued with COMMIT. A unit that wrote nothing sends nothing.
func (u *unit) commit(ctx context.Context) error {
	if !u.begun {
		return nil
	}
	if !u.sent && !u.deferred {
		return u.commitImplicit(ctx)
	}
	u.framing = append(u.framing, "COMMIT")
	br, err := u.send(ctx, "COMMIT")
	if err != nil {
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() != "COMMIT" {
		// COMMIT in a failed transaction rolls it back without an error: a statement of
		// the unit failed and fn went on regardless.
		err = fmt.Errorf("the transaction was rolled back (%s)", tag)
	}
	return err
}

// commitImplicit sends a unit none of whose statements went out yet (a decision: the
// compare-and-set, its audit row, the claim of its answer's record) without its BEGIN
// and COMMIT. The statements of one pipeline up to its Sync are one implicit
// transaction, committed at the Sync (durably, as COMMIT: synchronous_commit is the
// session's) or, when one of them fails, rolled back with the rest skipped: BEGIN and
// COMMIT were two more statements to bind, run and answer on every validation, about
// 10 µs of the server's CPU. A deferred unit keeps them: its SET LOCAL needs a
// transaction block.
func (u *unit) commitImplicit(ctx context.Context) error {
	qs := u.b.QueuedQueries
	if len(qs) < 2 || qs[0].SQL != "BEGIN" {
		return fmt.Errorf("postgres: update: unit queued without its BEGIN")
	}
	copy(qs, qs[1:])
	u.b.QueuedQueries = qs[:len(qs)-1]
	for i := range u.assumed {
		u.assumed[i]--
	}
	if len(u.framing) > 0 && u.framing[0] == "BEGIN" {
		u.framing = u.framing[1:]
	}
	br, err := u.sendBatch(ctx, 0)
	if err != nil {
		return err
	}
	// The commit, at the Sync: its error, if any, comes with the batch's end.
	return br.Close()
}

// rollback ends the transaction a failed unit may have left open, even when the unit's
// context has ended, but within rollbackTimeout: a database that stopped answering would
// hold it, and its request, forever. If it cannot, the connection is closed, so that the
// pool never hands out one inside a transaction.
func (u *unit) rollback(ctx context.Context) {
	if !u.sent || u.c.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if _, err := u.c.Exec(ctx, "ROLLBACK"); err != nil {
		_ = u.c.Close(ctx)
	}
}

// rollbackTimeout bounds a ROLLBACK: a live database answers one at once.
const rollbackTimeout = 2 * time.Second

// batchRow is the one row of a query sent in a batch: Scan reads it and closes the batch.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRow is a row whose query failed before it ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
