// Package sqlite is emfa's default store.Store: one SQLite database file (or an in-memory
// database for trials and tests), driven by the pure-Go modernc.org/sqlite, its schema
// migrated by goose when it is opened.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/emfa/emfa/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*Store)(nil)

// Store is a store.Store on SQLite.
//
// Writes go through a pool of exactly one connection; reads through a pool of several.
// SQLite admits one writer at a time per database whatever we do. With several writing
// connections the losers of each race sleep in SQLite's busy handler (steps of 1, 2, 5, 10
// ... 100 ms), which is neither fair nor bounded below busy_timeout: past it the caller
// gets "database is locked". Queuing writers on one connection in Go instead is fair and
// never surfaces SQLITE_BUSY from this process. Measured on the 2-core dev machine, file
// database, 50 goroutines x 40 AdvanceCounter calls on distinct factors:
//
//	one writer connection:              ~3,500 ops/s, p99 65 ms,      max 0.1 s
//	50 writer connections (busy wait):  900-1,500 ops/s, p99 0.5-0.9 s, max 1.3-2.2 s
//
// Each write costs one fsync of the WAL (synchronous=FULL), ~0.3 ms here, which caps either
// design; the single writer just does not waste the lock in sleeps. WAL lets the read pool
// run beside the writer. busy_timeout still matters for other processes on the same file,
// such as an admin command run while the server is up.
type Store struct {
	w *sql.DB // one connection: all writes
	r *sql.DB // readers; the same pool as w for an in-memory database
}

// busyTimeout is how long a connection waits on another process's lock before SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Open opens (creating it if need be) the database dsn names and migrates it to the
// current schema. dsn is a path ("/var/lib/emfa/emfa.db"), a SQLite URI
// ("file:/var/lib/emfa/emfa.db", "file:emfa.db?mode=rwc"), or ":memory:" for a private
// in-memory database that lives until Close; an in-memory store has one connection in all.
//
// Open sets the pragmas the store depends on, overriding any the DSN sets: foreign_keys
// (deleting a user deletes its factors), busy_timeout, journal_mode=WAL for a file, and
// synchronous=FULL, because a committed counter lost on power failure would reopen a
// replay window for a code already used.
func Open(ctx context.Context, dsn string) (*Store, error) {
	base, query, memory, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if err := createPrivate(base, query); err != nil { // filemode.go
		return nil, err
	}

	// sql.Open only validates its arguments; connections are made on first use.
	pragmas := map[string]string{
		"busy_timeout": fmt.Sprint(busyTimeout.Milliseconds()),
		"foreign_keys": "1",
		"synchronous":  "FULL",
	}
	if !memory {
		pragmas["journal_mode"] = "WAL"
	}
	wq := withPragmas(query, pragmas)
	// IMMEDIATE takes the write lock at BEGIN (goose's migrations and inTx use
	// transactions): a deferred transaction that reads first and then writes can fail with
	// SQLITE_BUSY without waiting if another process wrote in between, and what it read
	// could change under it before it writes.
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", base+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// One connection, kept for the life of the pool: for ":memory:" it is the database.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, r: w}

	if err := s.init(ctx, memory); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	if memory {
		return s, nil
	}

	// Readers are opened after the writer has switched the file to WAL. query_only makes
	// a write sent to the wrong pool fail instead of contending with the writer.
	rq := withPragmas(query, map[string]string{
		"busy_timeout": fmt.Sprint(busyTimeout.Milliseconds()),
		"foreign_keys": "1",
		"query_only":   "1",
	})
	r, err := sql.Open("sqlite", base+"?"+rq.Encode())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open readers: %w", err), w.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open readers: %w", err), r.Close(), w.Close())
	}
	s.r = r
	return s, nil
}

// init connects the writer, checks that the pragmas took, and migrates.
func (s *Store) init(ctx context.Context, memory bool) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	// journal_mode reports the mode in force rather than failing when it cannot switch
	// (some network file systems), and foreign_keys is silently ignored inside a
	// transaction: check both rather than run without them.
	var fk int
	if err := s.w.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("sqlite: open: read foreign_keys: %w", err)
	}
	if fk != 1 {
		return errors.New("sqlite: open: foreign keys are not enabled")
	}
	if !memory {
		var mode string
		if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			return fmt.Errorf("sqlite: open: read journal_mode: %w", err)
		}
		if !strings.EqualFold(mode, "wal") {
			return fmt.Errorf("sqlite: open: journal_mode is %q, want wal", mode)
		}
	}
	if err := migrate(ctx, s.w); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, dir)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// parseDSN splits dsn into the part SQLite opens and its query, and tells whether it names
// an in-memory database.
func parseDSN(dsn string) (base string, query url.Values, memory bool, err error) {
	if dsn == "" {
		// SQLite would open a private temporary file per connection: never what was meant.
		return "", nil, false, errors.New("sqlite: empty dsn")
	}
	base, raw, _ := strings.Cut(dsn, "?")
	query, err = url.ParseQuery(raw)
	if err != nil {
		return "", nil, false, fmt.Errorf("sqlite: dsn query: %w", err)
	}
	memory = base == ":memory:" || strings.HasPrefix(base, "file::memory:") || query.Get("mode") == "memory"
	return base, query, memory, nil
}

// pragmaKeys are the driver's shorthand keys for the pragmas Open controls, aliases
// included. A DSN's own values for them are dropped from every pool: Open's win, and a
// reader must not try to change the journal mode the writer set.
var pragmaKeys = map[string][]string{
	"busy_timeout": {"_busy_timeout", "_timeout"},
	"foreign_keys": {"_foreign_keys", "_fk"},
	"journal_mode": {"_journal_mode", "_journal"},
	"synchronous":  {"_synchronous", "_sync"},
	"query_only":   {"_query_only"},
}

// withPragmas returns a copy of q without any setting of the pragmas in pragmaKeys, plus
// those in set, given through the driver's _pragma key.
func withPragmas(q url.Values, set map[string]string) url.Values {
	out := make(url.Values, len(q)+1)
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	for _, keys := range pragmaKeys {
		for _, k := range keys {
			out.Del(k)
		}
	}
	var kept []string
	for _, p := range out["_pragma"] {
		name, _, _ := strings.Cut(p, "(")
		name, _, _ = strings.Cut(name, "=")
		if _, ours := pragmaKeys[strings.ToLower(strings.TrimSpace(name))]; !ours {
			kept = append(kept, p)
		}
	}
	for name, v := range set {
		kept = append(kept, name+"("+v+")")
	}
	out["_pragma"] = kept
	return out
}

// Close closes both pools.
func (s *Store) Close() error {
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping reports whether both pools can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping readers: %w", err)
	}
	return nil
}

// --- users ---

const userCols = `id, name, disabled, created_at`

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4)`,
		u.ID, u.Name, u.Disabled, millis(u.CreatedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("sqlite: create user %q: %w", u.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user %q: %w", u.Name, err)
	}
	return nil
}

func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, fmt.Errorf("sqlite: get user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: get user %q: %w", name, err)
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return users, nil
}

func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET disabled = $2 WHERE name = $1`, name, disabled)
	if err := changedOne(res, err); err != nil {
		return fmt.Errorf("sqlite: set user %q disabled: %w", name, err)
	}
	return nil
}

func (s *Store) DeleteUser(ctx context.Context, name string) error {
	// The factors go with it: ON DELETE CASCADE, in the same statement.
	res, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE name = $1`, name)
	if err := changedOne(res, err); err != nil {
		return fmt.Errorf("sqlite: delete user %q: %w", name, err)
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
	params, err := encodeParams(f.Params)
	if err != nil {
		return fmt.Errorf("sqlite: create factor %s: %w", f.ID, err)
	}
	_, err = s.w.ExecContext(ctx,
		`INSERT INTO factors (`+factorCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		f.ID, f.UserID, f.Type, f.Label, string(f.State), f.Secret, f.KeyID, params,
		f.Counter, f.Failures, millis(f.LockedUntil), millis(f.CreatedAt), millis(f.UpdatedAt))
	switch {
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE):
		return fmt.Errorf("sqlite: create factor %s: %w", f.ID, store.ErrExists)
	case isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY):
		return fmt.Errorf("sqlite: create factor %s: user %s: %w", f.ID, f.UserID, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("sqlite: create factor %s: %w", f.ID, err)
	}
	return nil
}

func (s *Store) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	f, err := scanFactor(s.r.QueryRowContext(ctx, `SELECT `+factorCols+` FROM factors WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Factor{}, fmt.Errorf("sqlite: get factor %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Factor{}, fmt.Errorf("sqlite: get factor %s: %w", id, err)
	}
	return f, nil
}

func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+factorCols+` FROM factors WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list factors of %s: %w", userID, err)
	}
	fs, err := collect(rows, scanFactor)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list factors of %s: %w", userID, err)
	}
	return fs, nil
}

func (s *Store) SetFactorState(ctx context.Context, id string, st store.FactorState, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE factors SET state = $2, updated_at = $3 WHERE id = $1`,
		id, string(st), millis(now))
	if err := changedOne(res, err); err != nil {
		return fmt.Errorf("sqlite: set factor %s state: %w", id, err)
	}
	return nil
}

func (s *Store) DeleteFactor(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM factors WHERE id = $1`, id)
	if err := changedOne(res, err); err != nil {
		return fmt.Errorf("sqlite: delete factor %s: %w", id, err)
	}
	return nil
}

func (s *Store) AdvanceCounter(ctx context.Context, id string, next int64, now time.Time) error {
	// The comparison and the write are one statement, so two requests carrying the same
	// code cannot both pass: the second finds counter = next and changes nothing.
	res, err := s.w.ExecContext(ctx,
		`UPDATE factors SET counter = $2, failures = 0, locked_until = 0, updated_at = $3
		 WHERE id = $1 AND counter < $2`,
		id, next, millis(now))
	if err := changedOne(res, err); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("sqlite: advance counter of %s: %w", id, err)
		}
		// Nothing changed: either no such factor or the counter is already there.
		if err := s.factorExists(ctx, id); err != nil {
			return fmt.Errorf("sqlite: advance counter of %s: %w", id, err)
		}
		return fmt.Errorf("sqlite: advance counter of %s to %d: %w", id, next, store.ErrReplay)
	}
	return nil
}

// recordFailureSQL counts a failure in one statement, so concurrent failures are never
// lost. SET expressions all see the row as it was: "expired" is recomputed in each rather
// than shared through a sub-select, which in PostgreSQL would read a stale snapshot.
//
// $1 id, $2 now, $3 max, $4 now+lockFor, all integers.
const recordFailureSQL = `
UPDATE factors SET
    failures = (CASE WHEN locked_until <> 0 AND locked_until <= $2 THEN 0 ELSE failures END) + 1,
    locked_until = CASE
        WHEN $3 > 0 AND (CASE WHEN locked_until <> 0 AND locked_until <= $2 THEN 0 ELSE failures END) + 1 >= $3
            THEN $4
        WHEN locked_until <> 0 AND locked_until <= $2
            THEN 0
        ELSE locked_until
    END,
    updated_at = $2
WHERE id = $1
RETURNING ` + factorCols

func (s *Store) RecordFailure(ctx context.Context, id string, now time.Time, maxFailures int, lockFor time.Duration) (store.Factor, error) {
	f, err := scanFactor(s.w.QueryRowContext(ctx, recordFailureSQL,
		id, millis(now), int64(maxFailures), millis(now.Add(lockFor))))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Factor{}, fmt.Errorf("sqlite: record failure of %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Factor{}, fmt.Errorf("sqlite: record failure of %s: %w", id, err)
	}
	return f, nil
}

func (s *Store) ResetFailures(ctx context.Context, id string, now time.Time) error {
	res, err := s.w.ExecContext(ctx,
		`UPDATE factors SET failures = 0, locked_until = 0, updated_at = $2 WHERE id = $1`, id, millis(now))
	if err := changedOne(res, err); err != nil {
		return fmt.Errorf("sqlite: reset failures of %s: %w", id, err)
	}
	return nil
}

func (s *Store) UpdateFactorSecret(ctx context.Context, id string, secret []byte, keyID string, now time.Time) error {
	res, err := s.w.ExecContext(ctx,
		`UPDATE factors SET secret = $2, key_id = $3, updated_at = $4 WHERE id = $1`,
		id, secret, keyID, millis(now))
	if err := changedOne(res, err); err != nil {
		return fmt.Errorf("sqlite: update secret of factor %s: %w", id, err)
	}
	return nil
}

func (s *Store) ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error {
	p, err := encodeParams(params)
	if err != nil {
		return fmt.Errorf("sqlite: activate factor %s: %w", id, err)
	}
	// The state test and the write are one statement: of concurrent activations, the
	// second finds the factor active and changes nothing.
	res, err := s.w.ExecContext(ctx,
		`UPDATE factors SET state = $2, params = $3, updated_at = $4 WHERE id = $1 AND state = $5`,
		id, string(store.FactorActive), p, millis(now), string(store.FactorPending))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = s.factorNotPending(ctx, id)
		}
		return fmt.Errorf("sqlite: activate factor %s: %w", id, err)
	}
	return nil
}

func (s *Store) UpdateFactorParams(ctx context.Context, id, label string, params map[string]string, now time.Time) error {
	p, err := encodeParams(params)
	if err != nil {
		return fmt.Errorf("sqlite: update params of factor %s: %w", id, err)
	}
	res, err := s.w.ExecContext(ctx,
		`UPDATE factors SET label = $2, params = $3, updated_at = $4 WHERE id = $1`,
		id, label, p, millis(now))
	if err := changedOne(res, err); err != nil {
		return fmt.Errorf("sqlite: update params of factor %s: %w", id, err)
	}
	return nil
}

// factorNotPending explains why ActivateFactor changed nothing: ErrNotFound or ErrConflict.
func (s *Store) factorNotPending(ctx context.Context, id string) error {
	var state string
	err := s.r.QueryRowContext(ctx, `SELECT state FROM factors WHERE id = $1`, id).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return fmt.Errorf("state %s: %w", state, store.ErrConflict)
}

// factorExists returns nil if the factor exists, an error wrapping store.ErrNotFound if not.
func (s *Store) factorExists(ctx context.Context, id string) error {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM factors WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func scanFactor(sc scanner) (store.Factor, error) {
	var f store.Factor
	var state, params string
	var locked, created, updated int64
	err := sc.Scan(&f.ID, &f.UserID, &f.Type, &f.Label, &state, &f.Secret, &f.KeyID, &params,
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
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO transactions (`+txCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		t.ID, t.Provider, t.Username, t.Capability, t.FactorID, t.Status, t.Secret, t.Attempts, t.Data,
		millis(t.ExpiresAt), millis(t.CreatedAt), millis(t.UpdatedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return fmt.Errorf("sqlite: create transaction %s: %w", t.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create transaction %s: %w", t.ID, err)
	}
	return nil
}

func (s *Store) GetTransaction(ctx context.Context, id string) (store.Transaction, error) {
	t, err := scanTransaction(s.r.QueryRowContext(ctx, `SELECT `+txCols+` FROM transactions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Transaction{}, fmt.Errorf("sqlite: get transaction %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Transaction{}, fmt.Errorf("sqlite: get transaction %s: %w", id, err)
	}
	return t, nil
}

func (s *Store) CompleteTransaction(ctx context.Context, id, status string, now time.Time) error {
	res, err := s.w.ExecContext(ctx,
		`UPDATE transactions SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4`,
		id, status, millis(now), pending)
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = s.notPending(ctx, id)
		}
		return fmt.Errorf("sqlite: complete transaction %s: %w", id, err)
	}
	return nil
}

func (s *Store) AddAttempt(ctx context.Context, id string, now time.Time) (int, error) {
	var n int
	err := s.w.QueryRowContext(ctx,
		`UPDATE transactions SET attempts = attempts + 1, updated_at = $2 WHERE id = $1 AND status = $3
		 RETURNING attempts`,
		id, millis(now), pending).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.notPending(ctx, id)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: add attempt to transaction %s: %w", id, err)
	}
	return n, nil
}

// notPending explains why a compare-and-set on transaction id changed nothing: ErrNotFound
// or ErrConflict.
func (s *Store) notPending(ctx context.Context, id string) error {
	var status string
	err := s.r.QueryRowContext(ctx, `SELECT status FROM transactions WHERE id = $1`, id).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return fmt.Errorf("status %s: %w", status, store.ErrConflict)
}

func (s *Store) CancelPending(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx,
		`UPDATE transactions SET status = $3, updated_at = $4
		 WHERE factor_id = $1 AND id <> $2 AND status = $5`,
		factorID, keepID, status, millis(now), pending)
	n, err := affected(res, err)
	if err != nil {
		return 0, fmt.Errorf("sqlite: cancel pending transactions of %s: %w", factorID, err)
	}
	return n, nil
}

func (s *Store) DeleteExpiredTransactions(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		// A caller looping "until it returns < limit" would never stop.
		return 0, fmt.Errorf("sqlite: delete expired transactions: limit %d is not positive", limit)
	}
	// Oldest first, so a cleaner that stops early has removed the stalest.
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM transactions WHERE id IN (
		     SELECT id FROM transactions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`,
		millis(before), limit)
	n, err := affected(res, err)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired transactions: %w", err)
	}
	return n, nil
}

func (s *Store) ListPendingTransactions(ctx context.Context, factorID string, now time.Time) ([]store.Transaction, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+txCols+` FROM transactions WHERE factor_id = $1 AND status = $2 AND expires_at > $3
		 ORDER BY created_at, id`,
		factorID, pending, millis(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list pending transactions of %s: %w", factorID, err)
	}
	txs, err := collect(rows, scanTransaction)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list pending transactions of %s: %w", factorID, err)
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
	keys, err := sendKeys(keys, limits)
	if err != nil {
		return fmt.Errorf("sqlite: reserve send: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	// Counts and inserts share one IMMEDIATE transaction on the writer: it holds the
	// database's write lock from BEGIN, so no other reservation, from this process or
	// another, can record a send between our counts and our inserts.
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, key := range keys {
			for _, l := range limits {
				// Counting stops at Max: a flood under one key costs no more than the limit.
				var n int
				err := tx.QueryRowContext(ctx,
					`SELECT count(*) FROM (SELECT 1 FROM sends WHERE key = $1 AND at > $2 LIMIT $3)`,
					key, millis(now.Add(-l.Window)), l.Max).Scan(&n)
				if err != nil {
					return err
				}
				if n >= l.Max {
					return fmt.Errorf("key %s: %d sends within %v: %w", key, l.Max, l.Window, store.ErrRateLimited)
				}
			}
		}
		for _, key := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sends (key, at) VALUES ($1, $2)`, key, millis(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: reserve send: %w", err)
	}
	return nil
}

func (s *Store) DeleteSendsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("sqlite: delete sends: limit %d is not positive", limit)
	}
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM sends WHERE rowid IN (SELECT rowid FROM sends WHERE at < $1 ORDER BY at LIMIT $2)`,
		millis(before), limit)
	n, err := affected(res, err)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete sends: %w", err)
	}
	return n, nil
}

// sendKeys checks limits and returns keys sorted without duplicates: a key named twice is
// one send under it, not two.
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
	// One statement: of concurrent uses the first inserts, the rest find the row and its
	// unexpired expires_at fails the WHERE, so they change nothing.
	res, err := s.w.ExecContext(ctx,
		`INSERT INTO nonces (scope, nonce, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (scope, nonce) DO UPDATE SET expires_at = excluded.expires_at
		 WHERE nonces.expires_at <= $4`,
		scope, nonce, millis(expires), millis(now))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrReplay
		}
		return fmt.Errorf("sqlite: use nonce in scope %s: %w", scope, err)
	}
	return nil
}

func (s *Store) DeleteExpiredNonces(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("sqlite: delete expired nonces: limit %d is not positive", limit)
	}
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM nonces WHERE rowid IN (
		     SELECT rowid FROM nonces WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`,
		millis(before), limit)
	n, err := affected(res, err)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired nonces: %w", err)
	}
	return n, nil
}

// --- audit ---

const auditCols = `time, request_id, provider, username, capability, factor_id, resource, outcome, reason`

// defaultAuditLimit applies when AuditFilter.Limit <= 0.
const defaultAuditLimit = 100

func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO audit (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		millis(e.Time), e.RequestID, e.Provider, e.Username, e.Capability, e.FactorID, e.Resource, e.Outcome, e.Reason)
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return nil
}

func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	var rows *sql.Rows
	var err error
	if f.Username == "" {
		rows, err = s.r.QueryContext(ctx,
			`SELECT `+auditCols+` FROM audit ORDER BY time DESC, id DESC LIMIT $1`, limit)
	} else {
		rows, err = s.r.QueryContext(ctx,
			`SELECT `+auditCols+` FROM audit WHERE username = $1 ORDER BY time DESC, id DESC LIMIT $2`,
			f.Username, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	events, err := collect(rows, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return events, nil
}

func scanAudit(sc scanner) (store.AuditEvent, error) {
	var e store.AuditEvent
	var t int64
	err := sc.Scan(&t, &e.RequestID, &e.Provider, &e.Username, &e.Capability, &e.FactorID, &e.Resource, &e.Outcome, &e.Reason)
	if err != nil {
		return store.AuditEvent{}, err
	}
	e.Time = fromMillis(t)
	return e, nil
}

// --- helpers ---

// inTx runs fn in a transaction on the writer and commits it if fn returns nil. The pool's
// _txlock makes it BEGIN IMMEDIATE, so the transaction holds the write lock throughout.
// fn must use only tx: for an in-memory database the readers are the writer's one
// connection, which tx holds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// Nothing to report from a failed rollback: the transaction is gone either way
		// (a canceled context has already rolled it back).
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// collect scans every row and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) (out []T, err error) {
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

// affected returns how many rows an Exec changed.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
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

// isConstraint reports whether err is a SQLite error with one of the extended codes.
func isConstraint(err error, codes ...int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code() == c {
			return true
		}
	}
	return false
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

func decodeParams(s string) (map[string]string, error) {
	var p map[string]string
	if err := json.Unmarshal([]byte(s), &p); err != nil {
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
		return 0, fmt.Errorf("sqlite: delete audit: limit %d is not positive", limit)
	}
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE time < $1 ORDER BY time LIMIT $2)`,
		millis(before), limit)
	n, err := affected(res, err)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete audit: %w", err)
	}
	return n, nil
}
