package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

var _ sqlstore.UnitRunner = dialect{}

// RunUnit runs a unit (store.Store.Update) on one connection's pgx.Conn, pipelined: BEGIN
// goes out with the unit's first statement, and the statements it runs Later (its audit
// row) with COMMIT, each batch in one round trip. A decision (a compare-and-set, then its
// audit row) costs two round trips and one commit, where a database/sql transaction cost
// four (BEGIN, the update, the insert, COMMIT). The statements stay prepared: pgx's
// statement cache serves a batch as it serves a single statement.
func (dialect) RunUnit(ctx context.Context, db *sql.DB, fn func(e sqlstore.Execer) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: update: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		u := &unit{c: dc.(*stdlib.Conn).Conn(), b: &pgx.Batch{}, deferred: store.SyncDeferred(ctx)}
		defer func() {
			if r := recover(); r != nil {
				u.rollback(ctx)
				panic(r)
			}
		}()
		if err := fn(u); err != nil {
			u.rollback(ctx)
			return err
		}
		if err := u.commit(ctx); err != nil {
			u.rollback(ctx)
			return fmt.Errorf("postgres: update: commit: %w", err)
		}
		return nil
	})
}

// unit is the Execer of one RunUnit.
type unit struct {
	c     *pgx.Conn
	b     *pgx.Batch // to go out with the next statement: BEGIN, Later's
	begun bool       // BEGIN is queued or sent
	sent  bool       // something went out: a transaction may be open on c
	// deferred: the unit commits without waiting for its WAL flush (store.DeferSync); a
	// later synchronous commit of its caller flushes it with its own, WAL being in order.
	deferred bool
}

// begin queues BEGIN before the unit's first statement.
func (u *unit) begin() {
	if !u.begun {
		u.b.Queue("BEGIN")
		if u.deferred {
			u.b.Queue("SET LOCAL synchronous_commit TO off")
		}
		u.begun = true
	}
}

// send sends the queued statements then q, reads the results of the queued ones, and
// returns the batch positioned at q's result, which the caller reads and closes.
func (u *unit) send(ctx context.Context, q string, args ...any) (pgx.BatchResults, error) {
	u.b.Queue(q, args...)
	queued := u.b.Len() - 1
	br := u.c.SendBatch(ctx, u.b)
	u.b, u.sent = &pgx.Batch{}, true
	for range queued {
		if _, err := br.Exec(); err != nil {
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
	u.b.Queue(q, args...)
	return nil
}

// commit sends what is queued with COMMIT. A unit that wrote nothing sends nothing.
func (u *unit) commit(ctx context.Context) error {
	if !u.begun {
		return nil
	}
	br, err := u.send(ctx, "COMMIT")
	if err != nil {
		return err
	}
	_, err = br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// rollback ends the transaction a failed unit may have left open. If it cannot, the
// connection is closed, so that the pool never hands out one inside a transaction.
func (u *unit) rollback(ctx context.Context) {
	if !u.sent || u.c.PgConn().TxStatus() == 'I' {
		return
	}
	if _, err := u.c.Exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		_ = u.c.Close(context.WithoutCancel(ctx))
	}
}

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
