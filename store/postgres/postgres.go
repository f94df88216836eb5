// Package postgres is the store.Store for deployments that run several emfa instances
// against one PostgreSQL database. It uses a pgx connection pool directly and migrates its
// schema with goose when it is opened.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*Store)(nil)

// Store is a store.Store on PostgreSQL.
//
// Every compare-and-set is one UPDATE whose WHERE clause carries the condition. Under READ
// COMMITTED a concurrent UPDATE of the same row waits for the first to commit and then
// re-evaluates WHERE and SET against the new row, so of many concurrent AdvanceCounter calls
// with the same value exactly one matches, and concurrent failures all count. ReserveSend,
// which must count rows before inserting, serializes on advisory locks instead.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database dsn names (a URL or keyword/value string, as pgx accepts)
// and migrates it to the current schema. Parameters pgx does not know are sent to the
// server as run-time settings, so "?search_path=emfa" puts the tables in schema emfa.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// The pool connects lazily; fail here, not on the first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return &Store{pool: pool}, nil
}

// migrationLockID names the advisory lock held while migrating (the bytes of "emfamigr").
const migrationLockID = 0x656d66616d696772

// migrate applies the embedded migrations under an advisory lock, so that instances
// starting together do not race to create the schema.
//
// The lock is taken on a connection of its own rather than through goose's SessionLocker,
// because goose checks for pending migrations (creating its version table when missing)
// before it takes that lock: concurrent first starts collide there and sit out goose's 1 s
// retry. The wait in pg_advisory_lock ends with ctx; closing the connection releases it.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	lock, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig)
	if err != nil {
		return fmt.Errorf("connect for the migration lock: %w", err)
	}
	defer lock.Close(context.WithoutCancel(ctx))
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockID)); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}

	// goose speaks database/sql; closing this view of the pool leaves the pool open.
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// --- users ---

const userCols = `id, name, disabled, created_at`

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4)`,
		u.ID, u.Name, u.Disabled, millis(u.CreatedAt))
	if code(err) == uniqueViolation {
		return fmt.Errorf("postgres: create user %q: %w", u.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("postgres: create user %q: %w", u.Name, err)
	}
	return nil
}

func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, fmt.Errorf("postgres: get user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: get user %q: %w", name, err)
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	// name is COLLATE "C": byte order, as in SQLite, whatever the database's locale.
	users, err := query(ctx, s, scanUser, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return users, nil
}

func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET disabled = $2 WHERE name = $1`, name, disabled)
	if err := changedOne(tag, err); err != nil {
		return fmt.Errorf("postgres: set user %q disabled: %w", name, err)
	}
	return nil
}

func (s *Store) DeleteUser(ctx context.Context, name string) error {
	// The factors go with it: ON DELETE CASCADE, in the same statement.
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE name = $1`, name)
	if err := changedOne(tag, err); err != nil {
		return fmt.Errorf("postgres: delete user %q: %w", name, err)
	}
	return nil
}

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var created int64
	if err := row.Scan(&u.ID, &u.Name, &u.Disabled, &created); err != nil {
		return store.User{}, err
	}
	u.CreatedAt = fromMillis(created)
	return u, nil
}

// --- factors ---

const factorCols = `id, user_id, type, label, state, secret, key_id, params, counter, failures, locked_until, created_at, updated_at`

func (s *Store) CreateFactor(ctx context.Context, f store.Factor) error {
	params, err := encodeParams(f.Params)
	if err != nil {
		return fmt.Errorf("postgres: create factor %s: %w", f.ID, err)
	}
	_, err = s.pool.Exec(ctx,
		`INSERT INTO factors (`+factorCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		f.ID, f.UserID, f.Type, f.Label, string(f.State), f.Secret, f.KeyID, params,
		f.Counter, f.Failures, millis(f.LockedUntil), millis(f.CreatedAt), millis(f.UpdatedAt))
	switch code(err) {
	case "":
	case uniqueViolation:
		return fmt.Errorf("postgres: create factor %s: %w", f.ID, store.ErrExists)
	case foreignKeyViolation:
		return fmt.Errorf("postgres: create factor %s: user %s: %w", f.ID, f.UserID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: create factor %s: %w", f.ID, err)
	}
	return nil
}

func (s *Store) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	f, err := scanFactor(s.pool.QueryRow(ctx, `SELECT `+factorCols+` FROM factors WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Factor{}, fmt.Errorf("postgres: get factor %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Factor{}, fmt.Errorf("postgres: get factor %s: %w", id, err)
	}
	return f, nil
}

func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	fs, err := query(ctx, s, scanFactor,
		`SELECT `+factorCols+` FROM factors WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list factors of %s: %w", userID, err)
	}
	return fs, nil
}

func (s *Store) SetFactorState(ctx context.Context, id string, st store.FactorState, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE factors SET state = $2, updated_at = $3 WHERE id = $1`,
		id, string(st), millis(now))
	if err := changedOne(tag, err); err != nil {
		return fmt.Errorf("postgres: set factor %s state: %w", id, err)
	}
	return nil
}

func (s *Store) DeleteFactor(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM factors WHERE id = $1`, id)
	if err := changedOne(tag, err); err != nil {
		return fmt.Errorf("postgres: delete factor %s: %w", id, err)
	}
	return nil
}

func (s *Store) AdvanceCounter(ctx context.Context, id string, next int64, now time.Time) error {
	// The comparison and the write are one statement, so two requests carrying the same
	// code cannot both pass: the second re-reads counter = next and changes nothing.
	tag, err := s.pool.Exec(ctx,
		`UPDATE factors SET counter = $2, failures = 0, locked_until = 0, updated_at = $3
		 WHERE id = $1 AND counter < $2`,
		id, next, millis(now))
	if err := changedOne(tag, err); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("postgres: advance counter of %s: %w", id, err)
		}
		// Nothing changed: either no such factor or the counter is already there.
		if err := s.factorExists(ctx, id); err != nil {
			return fmt.Errorf("postgres: advance counter of %s: %w", id, err)
		}
		return fmt.Errorf("postgres: advance counter of %s to %d: %w", id, next, store.ErrReplay)
	}
	return nil
}

// recordFailureSQL counts a failure in one statement, so concurrent failures are never
// lost. "Expired" is recomputed in each SET expression from the row being updated rather
// than taken from a sub-select, whose snapshot would predate a concurrent update.
//
// $1 id, $2 now, $3 max, $4 now+lockFor.
const recordFailureSQL = `
UPDATE factors SET
    failures = (CASE WHEN locked_until <> 0 AND locked_until <= $2::bigint THEN 0 ELSE failures END) + 1,
    locked_until = CASE
        WHEN $3::bigint > 0
             AND (CASE WHEN locked_until <> 0 AND locked_until <= $2::bigint THEN 0 ELSE failures END) + 1 >= $3::bigint
            THEN $4::bigint
        WHEN locked_until <> 0 AND locked_until <= $2::bigint
            THEN 0
        ELSE locked_until
    END,
    updated_at = $2::bigint
WHERE id = $1
RETURNING ` + factorCols

func (s *Store) RecordFailure(ctx context.Context, id string, now time.Time, maxFailures int, lockFor time.Duration) (store.Factor, error) {
	f, err := scanFactor(s.pool.QueryRow(ctx, recordFailureSQL,
		id, millis(now), int64(maxFailures), millis(now.Add(lockFor))))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Factor{}, fmt.Errorf("postgres: record failure of %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Factor{}, fmt.Errorf("postgres: record failure of %s: %w", id, err)
	}
	return f, nil
}

func (s *Store) ResetFailures(ctx context.Context, id string, now time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE factors SET failures = 0, locked_until = 0, updated_at = $2 WHERE id = $1`, id, millis(now))
	if err := changedOne(tag, err); err != nil {
		return fmt.Errorf("postgres: reset failures of %s: %w", id, err)
	}
	return nil
}

func (s *Store) UpdateFactorSecret(ctx context.Context, id string, secret []byte, keyID string, now time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE factors SET secret = $2, key_id = $3, updated_at = $4 WHERE id = $1`,
		id, secret, keyID, millis(now))
	if err := changedOne(tag, err); err != nil {
		return fmt.Errorf("postgres: update secret of factor %s: %w", id, err)
	}
	return nil
}

func (s *Store) ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error {
	p, err := encodeParams(params)
	if err != nil {
		return fmt.Errorf("postgres: activate factor %s: %w", id, err)
	}
	// The state test and the write are one statement: of concurrent activations, the
	// others wait for the first, re-read the row as active and change nothing.
	tag, err := s.pool.Exec(ctx,
		`UPDATE factors SET state = $2, params = $3, updated_at = $4 WHERE id = $1 AND state = $5`,
		id, string(store.FactorActive), p, millis(now), string(store.FactorPending))
	if err := changedOne(tag, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = s.factorNotPending(ctx, id)
		}
		return fmt.Errorf("postgres: activate factor %s: %w", id, err)
	}
	return nil
}

func (s *Store) UpdateFactorParams(ctx context.Context, id, label string, params map[string]string, now time.Time) error {
	p, err := encodeParams(params)
	if err != nil {
		return fmt.Errorf("postgres: update params of factor %s: %w", id, err)
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE factors SET label = $2, params = $3, updated_at = $4 WHERE id = $1`,
		id, label, p, millis(now))
	if err := changedOne(tag, err); err != nil {
		return fmt.Errorf("postgres: update params of factor %s: %w", id, err)
	}
	return nil
}

// factorNotPending explains why ActivateFactor changed nothing: ErrNotFound or ErrConflict.
func (s *Store) factorNotPending(ctx context.Context, id string) error {
	var state string
	err := s.pool.QueryRow(ctx, `SELECT state FROM factors WHERE id = $1`, id).Scan(&state)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return fmt.Errorf("state %s: %w", state, store.ErrConflict)
}

// factorExists returns nil if the factor exists, store.ErrNotFound if not.
func (s *Store) factorExists(ctx context.Context, id string) error {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM factors WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func scanFactor(row pgx.Row) (store.Factor, error) {
	var f store.Factor
	var state string
	var params []byte
	var locked, created, updated int64
	err := row.Scan(&f.ID, &f.UserID, &f.Type, &f.Label, &state, &f.Secret, &f.KeyID, &params,
		&f.Counter, &f.Failures, &locked, &created, &updated)
	if err != nil {
		return store.Factor{}, err
	}
	if f.Params, err = decodeParams(params); err != nil {
		return store.Factor{}, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	f.State = store.FactorState(state)
	f.Secret = nilIfEmpty(f.Secret)
	f.LockedUntil, f.CreatedAt, f.UpdatedAt = fromMillis(locked), fromMillis(created), fromMillis(updated)
	return f, nil
}

// --- transactions ---

const txCols = `id, provider, username, capability, factor_id, status, secret, attempts, data, expires_at, created_at, updated_at`

// pending is the one status the compare-and-set operations move transactions out of.
const pending = "PENDING"

func (s *Store) CreateTransaction(ctx context.Context, t store.Transaction) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO transactions (`+txCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		t.ID, t.Provider, t.Username, t.Capability, t.FactorID, t.Status, t.Secret, t.Attempts, t.Data,
		millis(t.ExpiresAt), millis(t.CreatedAt), millis(t.UpdatedAt))
	if code(err) == uniqueViolation {
		return fmt.Errorf("postgres: create transaction %s: %w", t.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("postgres: create transaction %s: %w", t.ID, err)
	}
	return nil
}

func (s *Store) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	t, err := scanTransaction(s.pool.QueryRow(ctx, `SELECT `+txCols+` FROM transactions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Transaction{}, fmt.Errorf("postgres: get transaction %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Transaction{}, fmt.Errorf("postgres: get transaction %s: %w", id, err)
	}
	return t, nil
}

func (s *Store) CompleteTransaction(ctx context.Context, id, status string, now time.Time) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE transactions SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4`,
		id, status, millis(now), pending)
	if err := changedOne(tag, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = s.notPending(ctx, id)
		}
		return fmt.Errorf("postgres: complete transaction %s: %w", id, err)
	}
	return nil
}

func (s *Store) AddAttempt(ctx context.Context, id string, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx,
		`UPDATE transactions SET attempts = attempts + 1, updated_at = $2 WHERE id = $1 AND status = $3
		 RETURNING attempts`,
		id, millis(now), pending).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.notPending(ctx, id)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: add attempt to transaction %s: %w", id, err)
	}
	return n, nil
}

// notPending explains why a compare-and-set on transaction id changed nothing: ErrNotFound
// or ErrConflict.
func (s *Store) notPending(ctx context.Context, id string) error {
	var status string
	err := s.pool.QueryRow(ctx, `SELECT status FROM transactions WHERE id = $1`, id).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return fmt.Errorf("status %s: %w", status, store.ErrConflict)
}

func (s *Store) CancelPending(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx,
		`UPDATE transactions SET status = $3, updated_at = $4
		 WHERE factor_id = $1 AND id <> $2 AND status = $5`,
		factorID, keepID, status, millis(now), pending)
	if err != nil {
		return 0, fmt.Errorf("postgres: cancel pending transactions of %s: %w", factorID, err)
	}
	return int(tag.RowsAffected()), nil
}

func (s *Store) DeleteExpiredTransactions(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		// A caller looping "until it returns < limit" would never stop.
		return 0, fmt.Errorf("postgres: delete expired transactions: limit %d is not positive", limit)
	}
	// Oldest first, so a cleaner that stops early has removed the stalest. SKIP LOCKED lets
	// the cleaners of several instances share the work instead of queuing on the same rows.
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM transactions WHERE id IN (
		     SELECT id FROM transactions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2
		     FOR UPDATE SKIP LOCKED)`,
		millis(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired transactions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func (s *Store) ListPendingTransactions(ctx context.Context, factorID string, now time.Time) ([]store.Transaction, error) {
	// transactions.id has the database's collation; sort it by bytes, as SQLite does.
	txs, err := query(ctx, s, scanTransaction,
		`SELECT `+txCols+` FROM transactions WHERE factor_id = $1 AND status = $2 AND expires_at > $3
		 ORDER BY created_at, id COLLATE "C"`,
		factorID, pending, millis(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: list pending transactions of %s: %w", factorID, err)
	}
	return txs, nil
}

func scanTransaction(row pgx.Row) (store.Transaction, error) {
	var t store.Transaction
	var expires, created, updated int64
	err := row.Scan(&t.ID, &t.Provider, &t.Username, &t.Capability, &t.FactorID, &t.Status, &t.Secret,
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
	keys, err := sendKeys(keys, limits)
	if err != nil {
		return fmt.Errorf("postgres: reserve send: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	// Counting and then inserting is not one statement, and no row exists to lock before
	// a key's first send, so reservations of a key serialize on an advisory lock on its
	// hash, held to the end of the transaction: every instance sharing the database
	// queues on it. Each count runs after our locks are granted, so under READ COMMITTED
	// it sees every send committed by an earlier holder. Keys are locked in sorted order so
	// that two reservations sharing keys cannot deadlock.
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One round trip: a batch runs its statements in order.
		b := &pgx.Batch{}
		for _, key := range keys {
			b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key)
		}
		var limited error
		for _, key := range keys {
			for _, l := range limits {
				// Counting stops at Max: a flood under one key costs no more than the limit.
				b.Queue(`SELECT count(*) FROM (SELECT 1 FROM sends WHERE key = $1 AND at > $2 LIMIT $3) s`,
					key, millis(now.Add(-l.Window)), l.Max).QueryRow(func(row pgx.Row) error {
					var n int
					if err := row.Scan(&n); err != nil {
						return err
					}
					if n >= l.Max && limited == nil {
						limited = fmt.Errorf("key %s: %d sends within %v: %w", key, l.Max, l.Window, store.ErrRateLimited)
					}
					return nil
				})
			}
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if limited != nil {
			return limited // rolls back, releasing the locks
		}
		_, err := tx.Exec(ctx, `INSERT INTO sends (key, at) SELECT unnest($1::text[]), $2::bigint`, keys, millis(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: reserve send: %w", err)
	}
	return nil
}

func (s *Store) DeleteSendsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: delete sends: limit %d is not positive", limit)
	}
	// sends has no key of its own; a row's ctid is stable while FOR UPDATE holds it.
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM sends WHERE ctid = ANY (ARRAY(
		     SELECT ctid FROM sends WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
		millis(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete sends: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// sendKeys checks limits and returns keys sorted without duplicates: a key named twice is
// one send under it, not two, and sorted is the order ReserveSend locks them in.
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
	// One statement: a concurrent use of the same nonce waits on the first one's row (or
	// its unique-index entry), then re-checks the WHERE against it and changes nothing.
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO nonces (scope, nonce, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (scope, nonce) DO UPDATE SET expires_at = excluded.expires_at
		 WHERE nonces.expires_at <= $4`,
		scope, nonce, millis(expires), millis(now))
	if err := changedOne(tag, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrReplay
		}
		return fmt.Errorf("postgres: use nonce in scope %s: %w", scope, err)
	}
	return nil
}

func (s *Store) DeleteExpiredNonces(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: delete expired nonces: limit %d is not positive", limit)
	}
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM nonces WHERE (scope, nonce) IN (
		     SELECT scope, nonce FROM nonces WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2
		     FOR UPDATE SKIP LOCKED)`,
		millis(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired nonces: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// --- audit ---

const auditCols = `time, request_id, provider, username, capability, factor_id, resource, outcome, reason, webhook_id`

// defaultAuditLimit applies when AuditFilter.Limit <= 0.
const defaultAuditLimit = 100

func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO audit (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		millis(e.Time), e.RequestID, e.Provider, e.Username, e.Capability, e.FactorID, e.Resource, e.Outcome, e.Reason, e.WebhookID)
	if err != nil {
		return fmt.Errorf("postgres: append audit: %w", err)
	}
	return nil
}

func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	var events []store.AuditEvent
	var err error
	if f.Username == "" {
		events, err = query(ctx, s, scanAudit,
			`SELECT `+auditCols+` FROM audit ORDER BY time DESC, id DESC LIMIT $1`, limit)
	} else {
		events, err = query(ctx, s, scanAudit,
			`SELECT `+auditCols+` FROM audit WHERE username = $1 ORDER BY time DESC, id DESC LIMIT $2`,
			f.Username, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	return events, nil
}

func scanAudit(row pgx.Row) (store.AuditEvent, error) {
	var e store.AuditEvent
	var t int64
	err := row.Scan(&t, &e.RequestID, &e.Provider, &e.Username, &e.Capability, &e.FactorID, &e.Resource, &e.Outcome, &e.Reason, &e.WebhookID)
	if err != nil {
		return store.AuditEvent{}, err
	}
	e.Time = fromMillis(t)
	return e, nil
}

// --- helpers ---

// query runs sql and scans every row with scan. pgx.CollectRows closes the rows.
func query[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
}

// changedOne turns "no row matched" into store.ErrNotFound.
func changedOne(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// SQLSTATE codes the store maps to sentinel errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// code returns the SQLSTATE of a server error, or "" for nil and other errors.
func code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
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

// encodeParams returns the JSON for the params column; pgx sends a []byte to a jsonb
// parameter as JSON text, unchanged.
func encodeParams(p map[string]string) ([]byte, error) {
	if len(p) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode params: %w", err)
	}
	return b, nil
}

func decodeParams(b []byte) (map[string]string, error) {
	var p map[string]string
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode params: %w", err)
	}
	if len(p) == 0 {
		return nil, nil
	}
	return p, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (s *Store) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: delete audit: limit %d is not positive", limit)
	}
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM audit WHERE id IN (
		     SELECT id FROM audit WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		millis(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete audit: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
