// Package postgres is the store.Store for deployments that run several emfa instances
// against one PostgreSQL database. It runs store/sqlstore's statements through pgx's
// database/sql driver and migrates the schema with goose when it is opened; this package
// says how PostgreSQL's SQL differs.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	gosync "sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// Migrations are the embedded migrations (in the folder "migrations"), exported for
// tests: one that starts a schema at an older version, and internal/testdb, which migrates
// each test's new schema, its own, without the migration lock that Open takes.
//
//go:embed migrations/*.sql
var Migrations embed.FS

var (
	_ store.Store         = (*Store)(nil)
	_ sqlstore.TextLimits = dialect{}
)

// Store is a store.Store on PostgreSQL.
//
// Every compare-and-set is one UPDATE whose WHERE clause carries the condition. Under READ
// COMMITTED a concurrent UPDATE of the same row waits for the first to commit and then
// re-evaluates WHERE and SET against the new row, so of many concurrent AdvanceCounter calls
// with the same value exactly one matches, and concurrent failures all count. ReserveSend,
// which must count rows before inserting, serializes on advisory locks instead.
type Store struct {
	*sqlstore.Store
	clock *clockWatch
}

// DefaultMaxConns is the pool size when neither MaxConns nor the DSN's pool_max_conns says
// otherwise. Every decision holds a connection from its BEGIN until its COMMIT has been
// flushed, and PostgreSQL flushes the WAL once for all the commits waiting at that moment:
// the pool bounds how many share a flush. pgxpool's own default, max(4, CPUs), left a
// 64-client load at four commits per flush; 16 and 32 measured alike on the 2-core dev
// machine, and 16 leaves three replicas well inside PostgreSQL's default max_connections
// of 100.
const DefaultMaxConns = 16

// DefaultConnectTimeout bounds each new connection when the DSN sets no connect_timeout
// (nor PGCONNECT_TIMEOUT): pgx's own default is to wait forever. A database behind a
// partition, or a failover that hangs, accepts the TCP connection and never answers;
// without a bound, emfa serve hung at start without a word, and database/sql's
// background connects (made with no deadline when requests queue for a connection) held
// the pool's slots for good, so that the store stayed unreachable after the database came
// back. A connection on a LAN takes milliseconds, with TLS across regions well under this.
const DefaultConnectTimeout = 5 * time.Second

// DefaultIdleInTransactionTimeout is the server's idle_in_transaction_session_timeout on
// the store's connections when neither the DSN, PGOPTIONS nor the server (its
// configuration, ALTER ROLE or ALTER DATABASE) sets it. A unit never waits
// between its statements (store.Store.Update's fn does no I/O), so a transaction the
// server has waited on this long is one whose client is gone without the server seeing
// its connection close (a network partition, a replica frozen or killed behind a NAT).
// Without it, the server kept that transaction, and the locks it held (ReserveSend's
// advisory locks, a factor's row), until its TCP keepalive noticed, two hours by default:
// every other replica's send to that user, or decision on that factor, waited on it and
// failed. It is set after connecting rather than as a startup parameter, which PgBouncer
// refuses unless told to ignore it.
const DefaultIdleInTransactionTimeout = 10 * time.Second

// Option sets up what Open opens.
type Option func(*options)

type options struct {
	maxConns   int
	tracer     pgx.QueryTracer // the tests' count of round trips (export_test.go)
	dial       pgconn.DialFunc // the tests' look at what goes out (export_test.go)
	log        *slog.Logger
	allowNewer bool

	lockWarnAfter, lockWarnEvery time.Duration    // the tests' (export_test.go); 0: the defaults
	now                          func() time.Time // the tests' clock (export_test.go); nil: time.Now
}

// MaxConns sizes the pool (storage.maxConnections); n <= 0 leaves the DSN's
// pool_max_conns, or DefaultMaxConns.
func MaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// Log names where Open says which migrations it applied.
func Log(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// AllowNewerSchema, when allow is set, opens a database whose schema a newer emfa migrated
// (storage.allowNewerSchema: a rollback across migrations that only add), with a warning in
// the log; without it Open refuses one (sqlstore.NewerSchemaError).
func AllowNewerSchema(allow bool) Option { return func(o *options) { o.allowNewer = allow } }

// CheckDSN reports whether dsn can be read as a connection string, without connecting (emfa
// check). Its error holds no password: pgx redacts it.
func CheckDSN(dsn string) error {
	_, err := pgxpool.ParseConfig(dsn)
	return err
}

// Open connects to the database dsn names (a URL or keyword/value string, as pgx accepts)
// and migrates it to the current schema. Parameters pgx does not know are sent to the
// server as run-time settings, so "?search_path=emfa" puts the tables in schema emfa.
//
// The DSN's pool settings pgxpool knows (pool_max_conns, pool_max_conn_lifetime,
// pool_max_conn_idle_time) size database/sql's pool, which keeps its connections idle
// between requests rather than handing them back to a second pool: a pgxpool under
// database/sql would cost an acquire and a new driver connection on every statement.
// MaxConns overrides pool_max_conns.
//
// Statements are prepared: pgx's default exec mode (cache_statement, unless the DSN sets
// default_query_exec_mode) prepares each statement on a connection the first time it runs
// there and reuses it after, so a decision's statements cost one round trip each, with no
// parse or plan.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	maxConns := int(cfg.MaxConns)
	switch {
	case o.maxConns > 0:
		maxConns = o.maxConns
	case !strings.Contains(dsn, "pool_max_conns"):
		maxConns = DefaultMaxConns
	}
	if o.tracer != nil {
		cfg.ConnConfig.Tracer = o.tracer
	}
	if o.dial != nil {
		cfg.ConnConfig.DialFunc = o.dial
	}
	if !strings.Contains(dsn, "connect_timeout") && os.Getenv("PGCONNECT_TIMEOUT") == "" {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	var dbOpts []stdlib.OptionOpenDB
	if _, set := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set &&
		!strings.Contains(cfg.ConnConfig.RuntimeParams["options"], "idle_in_transaction_session_timeout") {
		// Only where the server, the role or the database set none either (0).
		set := fmt.Sprintf(`SELECT set_config('idle_in_transaction_session_timeout', '%d', false) `+
			`WHERE current_setting('idle_in_transaction_session_timeout') = '0'`, DefaultIdleInTransactionTimeout.Milliseconds())
		dbOpts = append(dbOpts, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.PgConn().Exec(ctx, set).ReadAll() // simple protocol: nothing prepared
			return err
		}))
	}
	db := stdlib.OpenDB(*cfg.ConnConfig, dbOpts...)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	db.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	// The pool connects lazily; fail here, not on the first request.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if t := cfg.ConnConfig.ConnectTimeout; t > 0 && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("postgres: open: the database did not answer within %v (the DSN's connect_timeout, default %v): %w",
				t, DefaultConnectTimeout, err)
		}
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// A search_path naming only schemas that do not exist leaves nowhere to create the
	// tables; say so, rather than PostgreSQL's "no schema has been selected to create in".
	// The same round trip reads the database's clock (checkClock).
	var schema sql.NullString
	var path string
	var dbMillis int64
	now := o.now
	if now == nil {
		now = time.Now
	}
	sent := now()
	if err := db.QueryRowContext(ctx, `SELECT current_schema(), current_setting('search_path'), (extract(epoch FROM clock_timestamp()) * 1000)::bigint`).
		Scan(&schema, &path, &dbMillis); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	clock := &clockWatch{db: db, log: o.log, now: now, last: sent}
	clock.saw(ctx, sent, now(), time.UnixMilli(dbMillis))
	if !schema.Valid {
		db.Close()
		return nil, fmt.Errorf("postgres: open: no schema of the search_path (%s) exists: create it first (CREATE SCHEMA …), "+
			"or name one that exists in the DSN", path)
	}
	if err := migrate(ctx, cfg.ConnConfig, db, o, sqlstore.MigrateOptions{AllowNewer: o.allowNewer, Log: o.log}); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	// /readyz's ping, when every pooled connection is busy, connects on its own.
	alone := cfg.ConnConfig.Copy()
	ping := func(ctx context.Context) error {
		c, err := pgx.ConnectConfig(ctx, alone)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		return c.Ping(ctx)
	}
	return &Store{Store: sqlstore.New(db, db, dialect{unprepared: cfg.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement}, sqlstore.PingAlone(ping)),
		clock: clock}, nil
}

// clockWatch compares this process's clock with the database's: at open, and again
// (CheckClock) at most every store.ClockCheckEvery of a serve's life, for a clock that
// drifts, or is set wrong, after the process started. It says in the log (WARN) when the
// two differ by more than store.MaxFutureSkew, once until they agree again (INFO): one of
// them is wrong, and by this process's clock it checks time-based codes (a TOTP code's
// window is 30 s) and dates its records. Each look also records how far this clock is
// ahead (ClockAhead), by which the sync queue writes and compares its times, and an
// operator's change made here is ordered against a directory's events, on the database's
// clock (store.SharedClock) rather than this process's; a clock that drifts or is set
// between two looks is off for them until the next.
type clockWatch struct {
	db  *sql.DB
	log *slog.Logger
	now func() time.Time

	mu    gosync.Mutex
	last  time.Time     // the last look, by this process's clock
	off   bool          // the last look found it off, and said so
	ahead time.Duration // how far the last look found this clock ahead (ClockAhead)
}

var _ store.SharedClock = (*Store)(nil)

// ClockAhead is how far this process's clock was ahead of the database's at the last look
// (store.SharedClock): at open, then at CheckClock's looks.
func (s *Store) ClockAhead() time.Duration {
	c := s.clock
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ahead
}

// CheckClock compares this process's clock with the database's (clockWatch) when
// store.ClockCheckEvery has passed, by this process's clock, since the last look; a clock
// set back looks again at once. It reads nothing otherwise.
func (s *Store) CheckClock(ctx context.Context) error {
	c := s.clock
	if c == nil {
		return nil
	}
	c.mu.Lock()
	// By the wall clock (Round(0) drops the monotonic reading, which a clock set back or
	// forward does not move): such a change is what this look is for.
	sent := c.now().Round(0)
	if d := sent.Sub(c.last); d >= 0 && d < store.ClockCheckEvery {
		c.mu.Unlock()
		return nil
	}
	c.last = sent
	c.mu.Unlock()
	var dbMillis int64
	if err := c.db.QueryRowContext(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint`).Scan(&dbMillis); err != nil {
		return fmt.Errorf("postgres: read the database's clock: %w", err)
	}
	c.saw(ctx, sent, c.now(), time.UnixMilli(dbMillis))
	return nil
}

// saw is one look: the database's clock read at db between sent and received by this
// process's.
func (c *clockWatch) saw(ctx context.Context, sent, received, db time.Time) {
	var off time.Duration
	switch {
	case db.Before(sent):
		off = sent.Sub(db) // this clock ahead
	case db.After(received):
		off = -db.Sub(received) // this clock behind
	}
	beyond := off > store.MaxFutureSkew || off < -store.MaxFutureSkew
	c.mu.Lock()
	was := c.off
	c.off = beyond
	c.ahead = off
	if off < store.ClockTolerance && off > -store.ClockTolerance {
		c.ahead = 0
	}
	c.mu.Unlock()
	if c.log == nil || beyond == was {
		return
	}
	if !beyond {
		c.log.InfoContext(ctx, "this process's clock agrees with the database's again (within "+store.MaxFutureSkew.String()+")",
			"local", received.UTC().Format(time.RFC3339Nano), "database", db.UTC().Format(time.RFC3339Nano), "ahead_by", off.Round(time.Millisecond))
		return
	}
	c.log.WarnContext(ctx, "this process's clock differs from the database's by more than "+store.MaxFutureSkew.String()+
		": time-based codes (TOTP) checked here fail or pass at the wrong time, and this process's records are "+
		"dated wrongly (directory sync follows the database's clock); set the clocks right (NTP)",
		"local", received.UTC().Format(time.RFC3339Nano), "database", db.UTC().Format(time.RFC3339Nano), "ahead_by", off.Round(time.Millisecond))
}

// migrationLockID names the advisory lock held while migrating (the bytes of "emfamigr").
const migrationLockID = 0x656d66616d696772

// A start waiting for the migration lock tries it again every migrationLockRetry, and
// says so in the log (WARN) once it has waited migrationLockWarnAfter, then every
// migrationLockWarnEvery. A migration takes well under the first; a longer wait is one
// stuck, or a holder gone behind a network partition, whose session (and lock) the
// server keeps until its TCP keepalive gives up, two hours by default.
const (
	migrationLockRetry     = 100 * time.Millisecond
	migrationLockWarnAfter = 5 * time.Second
	migrationLockWarnEvery = time.Minute
)

// migrate applies the embedded migrations under an advisory lock, so that instances
// starting together do not race to create the schema. A database whose schema is already
// this version's (every start but the first, and the first after an upgrade) is left as
// it is without the lock: taking it costs a connection of its own, the slowest step of a
// start (issue 16: start-up under 100 ms).
//
// The lock is taken on a connection of its own rather than through goose's SessionLocker,
// because goose checks for pending migrations (creating its version table when missing)
// before it takes that lock: concurrent first starts collide there and sit out goose's 1 s
// retry. The wait for it ends with ctx (lockMigrations); closing the connection releases
// it.
//
// A schema newer than this emfa's migrations is refused (sqlstore.NewerSchemaError), or,
// allowed, left as it is, in either look.
func migrate(ctx context.Context, cfg *pgx.ConnConfig, db *sql.DB, o options, mo sqlstore.MigrateOptions) error {
	// goose's look at pending migrations creates its version table when it is missing,
	// so the look is taken only where the table exists: a first start migrates under
	// the lock. One migrating now holds the lock, and its pending migrations send this
	// start to wait for it.
	var versioned bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&versioned); err != nil {
		return fmt.Errorf("look for the version table: %w", err)
	}
	if versioned {
		pending, err := sqlstore.Pending(ctx, db, goose.DialectPostgres, Migrations, mo)
		if err != nil {
			return err
		}
		if !pending {
			return nil
		}
	}
	lock, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect for the migration lock: %w", err)
	}
	defer lock.Close(context.WithoutCancel(ctx))
	if err := lockMigrations(ctx, lock, o); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if err := dropLeftoverFunctions(ctx, db, o.log); err != nil {
		return err
	}
	return sqlstore.MigrateWith(ctx, db, goose.DialectPostgres, Migrations, mo)
}

// migrationFunctions are the functions the migrations create for their triggers, each
// with the migration that creates it. Every other object of the schema belongs to a table.
var migrationFunctions = []struct {
	name    string
	version int64
}{
	{"user_profiles_revision", 17},
	{"users_disabled_to_factors", 21},
	{"factors_user_disabled", 21},
	{"factors_user_disabled_moved", 24},
}

// dropLeftoverFunctions drops, from the schema the migrations create in, the functions of
// the migrations the database has not recorded. They are a newer schema's, left by the
// README's restore of an older backup (pg_restore --clean drops and recreates what the
// dump holds: the tables, with their triggers, not these); the migration that creates
// one failed on it ("already exists", SQLSTATE 42723), and every start after it. Without
// CASCADE: a trigger that still used one would fail the drop, and the start, saying so.
// Called under the migration lock.
func dropLeftoverFunctions(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	var schema string
	var versioned bool
	if err := db.QueryRowContext(ctx, `SELECT current_schema(), to_regclass('goose_db_version') IS NOT NULL`).Scan(&schema, &versioned); err != nil {
		return fmt.Errorf("look for functions left by a newer schema: %w", err)
	}
	var version int64 // none recorded: a new database, where any such function is left too
	if versioned {
		if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version`).Scan(&version); err != nil {
			return fmt.Errorf("look for functions left by a newer schema: %w", err)
		}
	}
	var dropped []string
	for _, f := range migrationFunctions {
		if f.version <= version {
			continue
		}
		ident := pgx.Identifier{schema, f.name}.Sanitize()
		var found bool
		if err := db.QueryRowContext(ctx, `SELECT to_regprocedure($1) IS NOT NULL`, ident+"()").Scan(&found); err != nil {
			return fmt.Errorf("look for function %s: %w", ident, err)
		}
		if !found {
			continue
		}
		if _, err := db.ExecContext(ctx, `DROP FUNCTION `+ident+`()`); err != nil {
			return fmt.Errorf("drop function %s, which a newer schema left (the restore of an older backup): %w", ident, err)
		}
		dropped = append(dropped, f.name)
	}
	if len(dropped) > 0 && log != nil {
		log.InfoContext(ctx, "dropped the functions a newer schema left (a restored older backup), which its migrations create again",
			"schema", schema, "version", version, "functions", strings.Join(dropped, ", "))
	}
	return nil
}

// lockMigrations takes the migration lock on c, trying it every migrationLockRetry until
// ctx ends, and logs the wait, with who holds the lock where the server says, once it is
// long. pg_advisory_lock would wait in the server without a word, for as long as a holder
// gone behind a partition keeps it.
func lockMigrations(ctx context.Context, c *pgx.Conn, o options) error {
	warnAfter, warnEvery := migrationLockWarnAfter, migrationLockWarnEvery
	if o.lockWarnAfter > 0 {
		warnAfter, warnEvery = o.lockWarnAfter, o.lockWarnEvery
	}
	start := time.Now()
	nextWarn := start.Add(warnAfter)
	var t *time.Timer
	for {
		var locked bool
		if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(migrationLockID)).Scan(&locked); err != nil {
			return err
		}
		if locked {
			return nil
		}
		if now := time.Now(); o.log != nil && !now.Before(nextWarn) {
			nextWarn = now.Add(warnEvery)
			o.log.WarnContext(ctx, "waiting for the migration lock, held by another emfa "+
				"(migrating, or gone without its connection closing: pg_terminate_backend(pid) releases it)",
				append([]any{"waited", now.Sub(start).Round(time.Second)}, migrationLockHolder(ctx, c)...)...)
		}
		if t == nil {
			t = time.NewTimer(migrationLockRetry)
			defer t.Stop()
		} else {
			t.Reset(migrationLockRetry)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// migrationLockHolder is what the server says of the session holding the migration lock
// (pg_locks, pg_stat_activity: its address only to a role allowed to see it), as log
// attributes; none when it says nothing.
func migrationLockHolder(ctx context.Context, c *pgx.Conn) []any {
	var pid int
	var addr, app, state string
	var since *time.Time
	err := c.QueryRow(ctx, `SELECT l.pid, coalesce(host(a.client_addr), ''), coalesce(a.application_name, ''),
		coalesce(a.state, ''), a.state_change
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1
		LIMIT 1`,
		int64(uint64(migrationLockID)>>32), int64(migrationLockID&0xffffffff)).Scan(&pid, &addr, &app, &state, &since)
	if err != nil {
		return nil
	}
	attrs := []any{"pid", pid}
	if addr != "" {
		attrs = append(attrs, "client_addr", addr)
	}
	if app != "" {
		attrs = append(attrs, "application_name", app)
	}
	if state != "" && since != nil {
		attrs = append(attrs, "state", state, "since", since.UTC().Format(time.RFC3339))
	}
	return attrs
}

// dialect is what PostgreSQL's SQL says its own way, and its units of work. unprepared: the DSN's
// default_query_exec_mode is not pgx's statement cache (simple_protocol behind a pooler),
// so a unit prepares none of its statements by name (unit.prepareFraming); read once at
// Open, as pgx's Conn.Config copies the whole configuration on each call.
type dialect struct{ unprepared bool }

func (dialect) Name() string { return "postgres" }

// SQLSTATE codes the store maps to sentinel errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
	divisionByZero      = "22012" // an assumption that did not hold (unit.go)
	deadlockDetected    = "40P01" // a unit aborted as a deadlock's victim, run again (unit.go)
)

// sqlState is the SQLSTATE of a PostgreSQL error, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func (dialect) Constraint(err error) error {
	switch sqlState(err) {
	case uniqueViolation:
		return store.ErrExists
	case foreignKeyViolation:
		return store.ErrNotFound
	}
	return nil
}

// DeleteOldest locks the rows it picks with SKIP LOCKED, so the cleaners of several
// instances share the work instead of queuing on the same rows. A table without a key
// (sends, whose rows are never updated) is deleted by ctid, which is stable while FOR
// UPDATE holds the row.
func (dialect) DeleteOldest(table, key, where, order string) string {
	pick := ` FROM ` + table + ` WHERE ` + where + ` ORDER BY ` + order + ` LIMIT $2 FOR UPDATE SKIP LOCKED`
	if key == "" {
		return `DELETE FROM ` + table + ` WHERE ctid = ANY (ARRAY(SELECT ctid` + pick + `))`
	}
	return `DELETE FROM ` + table + ` WHERE (` + key + `) IN (SELECT ` + key + pick + `)`
}

// ByteOrder: a column without COLLATE "C" sorts by the database's locale.
func (dialect) ByteOrder(col string) string { return col + ` COLLATE "C"` }

// ExternalIDOf: as user_profiles_external_id has it (migration 00020).
func (dialect) ExternalIDOf(col string) string { return `(` + col + ` ->> 'scim.externalId')` }

// FoldedOf: as user_profiles_email_folded and _display_name_folded have it (migration
// 00022); lower() under COLLATE "C" folds ASCII only, as store.FoldText does.
func (dialect) FoldedOf(col string) string {
	return "lower(replace(replace(" + col + ", '\u212a', 'k'), '\u017f', 's') COLLATE \"C\")"
}

// LockKeys takes an advisory lock on the hash of each key, held to the end of tx: every
// instance sharing the database queues on it, and ReserveSend's count, a later statement
// under READ COMMITTED, sees every send committed by an earlier holder. The function scan
// takes the keys in array order, which is sorted, so two reservations sharing keys cannot
// deadlock.
func (dialect) LockKeys(ctx context.Context, e sqlstore.Execer, keys []string) error {
	_, err := e.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k`, keys)
	return err
}

// WritesInWith: a data-modifying CTE (an audit row carries the factor's last use with it).
func (dialect) WritesInWith() bool { return true }

// Hint: PostgreSQL's own messages name the cause ("could not extend file …: No space left
// on device", "connection refused").
func (dialect) Hint(error) string { return "" }

// HoldsText: PostgreSQL's text holds UTF-8 without NUL, and refuses a parameter that is
// not (SQLSTATE 22021), where SQLite would find nothing (sqlstore.TextLimits).
func (dialect) HoldsText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
