// Package sqlite is emfa's default store.Store: one SQLite database file (or an in-memory
// database for trials and tests), driven by the pure-Go modernc.org/sqlite, its schema
// migrated by goose when it is opened. The statements are store/sqlstore's; this package
// opens the database, sets up its pools and says how SQLite's SQL differs.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
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
// Each commit costs one fsync of the WAL (synchronous=FULL), which caps a writer that
// commits each write by itself at one write per fsync. So the one connection is driven by
// sqlstore.GroupCommit: the writes that queue while a commit flushes share the next
// commit, each in a savepoint of its own, and none is answered before that commit has
// returned. Concurrent writers then cost one fsync per batch, not per write (issue 16:
// 64 goroutines each writing a counter and an audit row, ~2 ms a decision before, ~0.25
// ms after, on the same machine). WAL lets the read pool run beside the writer.
// busy_timeout still matters for other processes on the same file, such as an admin
// command run while the server is up.
type Store struct {
	*sqlstore.Store
	w *sql.DB // one connection: all writes
	r *sql.DB // readers; the same pool as w for an in-memory database
	// ck checkpoints the WAL of a database file (checkpoint.go); nil in memory.
	ck *checkpointer
	// file is the database file opened (identity.go); nil in memory.
	file    *fileIdentity
	created bool // Open created the file
	log     *slog.Logger
}

// Option sets up what Open opens.
type Option func(*options)

type options struct {
	readConns    int
	log          *slog.Logger
	allowNewer   bool        // AllowNewerSchema
	checkpointed func(error) // tests: told of each background checkpoint
	backstop     int         // the writer's wal_autocheckpoint: backstopPages but in tests
	eachCommit   bool        // CheckFileAtCommit
}

// CheckFileAtCommit makes every commit look, under SQLite's write lock, that the DSN's
// path still names the file the store opened, and refuse the write otherwise (one stat
// and three allocations a commit). It is for a process that does not hold the file's
// serve lock (Own), a command beside a serve: a serve whose first start failed removes
// the store it created under that lock and the write lock, and a command that opened
// the file before and wrote after would be told its row was written into the unlinked
// file. A serve that holds the lock looks once, after taking it; a file removed under it
// later (rm -rf) is found by Ping and the checkpointer, off the commits' path.
func CheckFileAtCommit() Option { return func(o *options) { o.eachCommit = true } }

// ReadConns sizes the read pool of a database file (storage.maxConnections); n <= 0 leaves
// the default, max(4, GOMAXPROCS). Writes go through one connection whatever it says.
func ReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// Log names where the store reports what no caller is waiting for: a background checkpoint
// that failed (a full disk, say), and when they work again. Without it they go unreported.
// It also hears which migrations Open applied.
func Log(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// AllowNewerSchema, when allow is set, opens a database whose schema a newer emfa migrated
// (storage.allowNewerSchema: a rollback across migrations that only add), with a warning in
// the log; without it Open refuses one (sqlstore.NewerSchemaError).
func AllowNewerSchema(allow bool) Option { return func(o *options) { o.allowNewer = allow } }

// busyTimeout is how long a connection waits on another process's lock before SQLITE_BUSY
// (a var for a test).
var busyTimeout = 5 * time.Second

// migrationBusyTimeout is how long the writer waits on another process's lock while it
// migrates: another process migrating the same file (a command beside a restarted server)
// holds the lock for a whole migration, and migration 10 rebuilds an index over the whole
// audit trail, longer than busyTimeout on a large one. Open's context still ends the wait.
const migrationBusyTimeout = 10 * time.Minute

// Open opens (creating it if need be) the database dsn names and migrates it to the
// current schema. dsn is a path ("/var/lib/emfa/emfa.db"), a SQLite URI
// ("file:/var/lib/emfa/emfa.db", "file:emfa.db?mode=rwc"), or ":memory:" for a private
// in-memory database that lives until Close; an in-memory store has one connection in all.
//
// Open sets the pragmas the store depends on, overriding any the DSN sets: foreign_keys
// (deleting a user deletes its factors), busy_timeout, journal_mode=WAL for a file, and
// synchronous=FULL, because a committed counter lost on power failure would reopen a
// replay window for a code already used.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{backstop: backstopPages}
	for _, opt := range opts {
		opt(&o)
	}
	base, query, memory, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	created, err := createPrivate(base, query) // filemode.go
	if err != nil {
		return nil, err
	}
	path := dbPath(base)
	if !memory {
		base = uri(path) // the file createPrivate made, whatever its name holds
	}

	// sql.Open only validates its arguments; connections are made on first use.
	pragmas := map[string]string{
		"busy_timeout": fmt.Sprint(busyTimeout.Milliseconds()),
		"foreign_keys": "1",
		"synchronous":  "FULL",
		// Each unit of a group commit runs in a savepoint, whose journal (the pages it
		// changes, as they were) SQLite keeps in a temporary file by default: a write
		// system call for each page a unit touches first. It only serves to roll one unit
		// back inside its transaction, never recovery (the WAL does that), so memory holds
		// it: 5 % of a durable TOTP validation's CPU (issue 16).
		"temp_store": "MEMORY",
	}
	if !memory {
		// journal_mode=WAL is set by initWriter, once it has seen the file is emfa's.
		// The checkpointer copies the log to the file, not the writer (checkpoint.go).
		pragmas["wal_autocheckpoint"] = fmt.Sprint(o.backstop)
	}
	wq := withPragmas(query, pragmas)
	// IMMEDIATE takes the write lock at BEGIN (goose's migrations and ReserveSend use
	// transactions): a deferred transaction that reads first and then writes can fail with
	// SQLITE_BUSY without waiting if another process wrote in between, and what it read
	// could change under it before it writes.
	wq.Set("_txlock", "immediate")
	var file *fileIdentity // identity.go
	var w *sql.DB
	if memory {
		// The one connection is the readers' too: it says when it closes (closingConns).
		var c driver.Connector
		if c, err = sqlite.NewConnector(base + "?" + wq.Encode()); err == nil {
			w = sql.OpenDB(closingConns{c})
		}
	} else {
		// The writer's connections refuse to commit once the file is found gone.
		file = &fileIdentity{path: path, log: o.log, eachCommit: o.eachCommit}
		var c driver.Connector
		if c, err = sqlite.NewConnector(base + "?" + wq.Encode()); err == nil {
			w = sql.OpenDB(guarded{Connector: c, file: file})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	keepOne(w) // for ":memory:" the connection is the database

	if err := initWriter(ctx, w, memory, created, sqlstore.MigrateOptions{AllowNewer: o.allowNewer, Log: o.log}); err != nil {
		return nil, errors.Join(hinted(err), w.Close())
	}
	if memory {
		return newStore(w, w, nil, nil), nil
	}
	// The file the writer has open, to tell later whether its path still names it.
	if file.opened, err = os.Stat(path); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open: %w", err), w.Close())
	}

	// Readers are opened after the writer has switched the file to WAL. query_only makes
	// a write sent to the wrong pool fail instead of contending with the writer.
	rq := withPragmas(query, map[string]string{
		"busy_timeout": fmt.Sprint(busyTimeout.Milliseconds()),
		"foreign_keys": "1",
		"query_only":   "1",
	})
	rdsn := base + "?" + rq.Encode()
	var r *sql.DB
	var rc driver.Connector
	if rc, err = sqlite.NewConnector(rdsn); err == nil {
		r = sql.OpenDB(closingConns{rc})
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open readers: %w", err), w.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	if o.readConns > 0 {
		n = o.readConns
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open readers: %w", hinted(err)), r.Close(), w.Close())
	}
	// The checkpointer's synchronous setting decides whether a checkpoint fsyncs the file
	// before the log may start over: FULL, or a power loss could lose committed writes.
	cq := withPragmas(query, map[string]string{
		"busy_timeout": fmt.Sprint(busyTimeout.Milliseconds()),
		"synchronous":  "FULL",
	})
	c, err := sql.Open("sqlite", base+"?"+cq.Encode())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open checkpointer: %w", err), r.Close(), w.Close())
	}
	keepOne(c)
	ck := newCheckpointer(c, checkpointEvery)
	ck.log, ck.ran, ck.backstop = o.log, o.checkpointed, o.backstop
	// Writes come, and the checkpointer with them: it looks whether the file is still
	// there, so that a server no probe asks (/readyz) stops writing into a deleted one.
	ck.probe = func() { _ = file.check() }
	s := newStore(w, r, ck, file, sqlstore.PingAlone(func(ctx context.Context) error {
		// /readyz's ping while the writer or every reader is busy (a long write queues
		// the others, it does not stop the database answering): a reader of its own.
		db, err := sql.Open("sqlite", rdsn)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.PingContext(ctx)
	}))
	s.created, s.log = created, o.log
	return s, nil
}

// closingConns is a connector whose connections say when they close
// (sqlstore.ClosingConn): the readers', on whose driver connections the keyed reads
// prepare their statements (sqlstore.DetachedKeyedReads), finalized before the connection
// closes, so that its files close with it.
type closingConns struct{ driver.Connector }

func (cc closingConns) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := conn.(driverConn)
	if !ok {
		return nil, errors.Join(errors.New("sqlite: the driver's connection lacks an interface of database/sql's"), conn.Close())
	}
	return &closing{driverConn: c}, nil
}

// keepOne makes db a pool of one connection, kept for the life of the pool.
func keepOne(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
}

// newStore wraps the pools. ck is nil for an in-memory database; for a file, whose
// journal is a WAL, it checkpoints the log after commits. WAL commits reach the disk in
// order, so a batch of deferred writes (store.DeferSync) may commit there without its fsync.
// more adds options (a file's PingAlone).
func newStore(w, r *sql.DB, ck *checkpointer, file *fileIdentity, more ...sqlstore.Option) *Store {
	opts := append([]sqlstore.Option{sqlstore.GroupCommit(), sqlstore.PrepareStatements(), sqlstore.AnonymousParams(),
		sqlstore.DetachedKeyedReads(), sqlstore.BeginWith("BEGIN IMMEDIATE")}, more...)
	if ck != nil {
		opts = append(opts, sqlstore.DeferredSync("FULL", "NORMAL"), sqlstore.AfterCommit(ck.committed))
		go ck.run()
	}
	return &Store{Store: sqlstore.New(w, r, dialect{file: file}, opts...), w: w, r: r, ck: ck, file: file}
}

// Close stops the writer and the checkpointer, and closes every pool. Called from inside
// one of the store's writes, it closes nothing (sqlstore.ErrCloseInBatch).
func (s *Store) Close() error {
	err := s.Store.Close() // the writer first: no commit then wakes a stopped checkpointer
	if errors.Is(err, sqlstore.ErrCloseInBatch) {
		return err
	}
	if s.ck != nil {
		err = errors.Join(err, s.ck.close())
	}
	return err
}

// initWriter connects the writer, checks that the pragmas took, and migrates: a file Open
// has just created from the schema snapshot first (snapshot.go).
func initWriter(ctx context.Context, w *sql.DB, memory, created bool, mo sqlstore.MigrateOptions) error {
	if err := w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	// journal_mode reports the mode in force rather than failing when it cannot switch
	// (some network file systems), and foreign_keys is silently ignored inside a
	// transaction: check both rather than run without them.
	var fk int
	if err := w.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("sqlite: open: read foreign_keys: %w", err)
	}
	if fk != 1 {
		return errors.New("sqlite: open: foreign keys are not enabled")
	}
	if !memory {
		// Not another program's database (foreign.go), then WAL, which stays in the file.
		if err := refuseForeign(ctx, w); err != nil {
			return err
		}
		mode, err := setWAL(ctx, w)
		if err != nil {
			return fmt.Errorf("sqlite: open: set journal_mode: %w", err)
		}
		if !strings.EqualFold(mode, "wal") {
			return fmt.Errorf("sqlite: open: journal_mode is %q, want wal", mode)
		}
	}
	if memory {
		if err := sqlstore.MigrateWith(ctx, w, goose.DialectSQLite3, migrations, mo); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		return nil
	}
	return migrateUnsynced(ctx, w, created, mo)
}

// setWAL switches the writer's file to WAL, or finds it so. Another process opening the
// file at the same moment (a command beside a restarted server, after an upgrade) can have
// SQLite answer SQLITE_BUSY at once, its busy handler passed over (a switch of journal
// mode needs the file to itself, and a wait could deadlock): the switch is tried again
// every few milliseconds, for as long as a migration may be waited for
// (migrationBusyTimeout) or until ctx ends.
func setWAL(ctx context.Context, w *sql.DB) (string, error) {
	deadline := time.Now().Add(migrationBusyTimeout)
	for {
		var mode string
		err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return mode, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// migrateUnsynced applies the migrations with the writer at synchronous=NORMAL, then puts
// it back to FULL. goose commits each migration and its version row in a transaction of
// its own, and at FULL each commit waits for an fsync: a large part of opening a
// new database (issue 16's start-up). In WAL mode, NORMAL commits without the fsync and
// never corrupts the file: a power loss can only lose the last commits, each migration
// whole with its version row, and the next start applies what is missing. The writer's
// first commit at FULL syncs the log and with it every migration before it, as with the
// deferred commits (sqlstore.DeferredSync); no decision is answered before such a commit,
// and what a migration changes, applied again, comes out the same.
//
// It waits on another process's lock for migrationBusyTimeout rather than busyTimeout.
func migrateUnsynced(ctx context.Context, w *sql.DB, created bool, mo sqlstore.MigrateOptions) error {
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = %d", migrationBusyTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var err error
	if created {
		err = applySnapshot(ctx, w, mo)
	}
	if err == nil {
		err = sqlstore.MigrateWith(ctx, w, goose.DialectSQLite3, migrations, mo)
	}
	if err != nil {
		err = fmt.Errorf("sqlite: migrate: %w", err)
	}
	// Never serve at NORMAL: a pool whose one connection cannot be put back fails Open.
	if _, rerr := w.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA synchronous = FULL; PRAGMA busy_timeout = %d", busyTimeout.Milliseconds())); rerr != nil {
		return errors.Join(err, fmt.Errorf("sqlite: open: restore synchronous=FULL: %w", rerr))
	}
	return err
}

// CheckDSN reports whether dsn can be read as a SQLite DSN, without opening it (emfa check).
func CheckDSN(dsn string) error {
	_, _, _, err := parseDSN(dsn)
	return err
}

// parseDSN splits dsn into the part SQLite opens and its query, and tells whether it names
// an in-memory database.
func parseDSN(dsn string) (base string, query url.Values, memory bool, err error) {
	if dsn == "" {
		// SQLite would open a private temporary file per connection: never what was meant.
		return "", nil, false, errors.New("sqlite: empty dsn")
	}
	if looksPostgres(dsn) {
		// Opened as a path, it would be an empty store in a directory named after the URL,
		// its password included. The DSN itself is not repeated: it holds that password.
		return "", nil, false, errors.New("sqlite: the dsn is a PostgreSQL connection string: set storage.driver: postgres")
	}
	if lower := strings.ToLower(dsn); strings.HasPrefix(lower, "sqlite:") || strings.HasPrefix(lower, "sqlite3:") {
		// Other tools' URL (SQLAlchemy's sqlite:///PATH): opened as a path, it was a new,
		// empty store in a directory named "sqlite:".
		return "", nil, false, errors.New("sqlite: the dsn is another tool's sqlite:// URL: write the database's path, " +
			"or file:PATH (file:/var/lib/emfa/emfa.db)")
	}
	base, raw, _ := strings.Cut(dsn, "?")
	query, err = url.ParseQuery(raw)
	if err != nil {
		return "", nil, false, fmt.Errorf("sqlite: dsn query: %w", err)
	}
	memory = base == ":memory:" || strings.HasPrefix(base, "file::memory:") || query.Get("mode") == "memory"
	return base, query, memory, nil
}

// looksPostgres tells whether dsn is a PostgreSQL URL or keyword/value string, which no
// one means as a SQLite file's name.
func looksPostgres(dsn string) bool {
	lower := strings.ToLower(dsn)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return true
	}
	fields := strings.Fields(lower)
	if len(fields) < 2 {
		return false
	}
	for _, f := range fields {
		if k, _, ok := strings.Cut(f, "="); !ok || k == "" {
			return false
		}
	}
	return true
}

// pragmaKeys are the driver's shorthand keys for the pragmas Open controls, aliases
// included. A DSN's own values for them are dropped from every pool: Open's win, and a
// reader must not try to change the journal mode the writer set.
var pragmaKeys = map[string][]string{
	"busy_timeout":       {"_busy_timeout", "_timeout"},
	"foreign_keys":       {"_foreign_keys", "_fk"},
	"journal_mode":       {"_journal_mode", "_journal"},
	"synchronous":        {"_synchronous", "_sync"},
	"query_only":         {"_query_only"},
	"temp_store":         nil,
	"wal_autocheckpoint": nil,
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

// dialect is what SQLite's SQL says its own way.
type dialect struct {
	file *fileIdentity // nil in memory: a refused commit (identity.go) is explained from it
}

func (dialect) Name() string { return "sqlite" }

func (dialect) Constraint(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return store.ErrExists
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	}
	return nil
}

var _ sqlstore.NoTransaction = dialect{}

// NoTransaction: SQLite refuses a ROLLBACK with no transaction open with SQLITE_ERROR,
// "cannot rollback - no transaction is active" (its vdbe's words, stable since 3.x):
// after a COMMIT that failed and ended its transaction, or one SQLite rolled back itself.
func (dialect) NoTransaction(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_ERROR && strings.Contains(se.Error(), "no transaction is active")
}

// DeleteOldest picks rows by rowid, which every table here has, key or not. Writers take
// turns, so there are no locked rows to skip.
func (dialect) DeleteOldest(table, _, where, order string) string {
	return `DELETE FROM ` + table + ` WHERE rowid IN (
	     SELECT rowid FROM ` + table + ` WHERE ` + where + ` ORDER BY ` + order + ` LIMIT $2)`
}

// Bare: SQLite's unary + returns its operand as it is, a text, blob or integer alike, and
// makes an expression of a column, which has no declared type: modernc.org/sqlite then
// makes no string of one for each column on each run of a read (sqlstore.BareResults).
func (dialect) Bare(col string) string { return "+" + col }

var _ sqlstore.BareResults = dialect{}

// ByteOrder: SQLite's default collation, BINARY, is byte order.
func (dialect) ByteOrder(col string) string { return col }

// ExternalIDOf: as user_profiles_external_id has it (migration 00019).
func (dialect) ExternalIDOf(col string) string {
	return `json_extract(` + col + `, '$."scim.externalId"')`
}

// FoldedOf: as user_profiles_email_folded and _display_name_folded have it (migration
// 00020); the built-in lower folds ASCII only, as store.FoldText does.
func (dialect) FoldedOf(col string) string {
	return "lower(replace(replace(" + col + ", '\u212a', 'k'), '\u017f', 's'))"
}

// LockKeys has nothing to do: the writer's transactions BEGIN IMMEDIATE, so ReserveSend's
// holds the database's write lock from its start, and no other reservation, from this
// process or another, can record a send until it ends.
func (dialect) LockKeys(context.Context, sqlstore.Execer, []string) error { return nil }

// WritesInWith: SQLite's WITH clause reads only.
func (dialect) WritesInWith() bool { return false }

// Hint turns SQLite's terse words for the file system's refusals ("disk I/O error (778)")
// into what to look at. Writes need space and permission for the file and for its -wal and
// -shm beside it.
func (d dialect) Hint(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return ""
	}
	if se.Code() == sqlite3.SQLITE_CONSTRAINT_COMMITHOOK && d.file != nil {
		if why := d.file.refusal(); why != nil {
			return why.Error()
		}
	}
	switch se.Code() & 0xff { // the primary code; the extended one says which call failed
	case sqlite3.SQLITE_IOERR:
		return "the file system refused to read or write the database: a full disk, a quota, a read-only or failing volume?"
	case sqlite3.SQLITE_FULL:
		return "the disk or the file system's quota is full: free some space and emfa goes on"
	case sqlite3.SQLITE_CANTOPEN:
		return "check that the database's directory exists and that emfa's user may create files in it"
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return "the database file, its -wal or -shm, or their directory is not writable by emfa's user"
	case sqlite3.SQLITE_NOTADB:
		return "check that storage.dsn names emfa's database; if it does, its first page is damaged: restore a backup"
	case sqlite3.SQLITE_CORRUPT:
		return "the database file is damaged: stop emfa, keep a copy of it with its -wal, and restore a backup"
	}
	return ""
}

// hinted is err with dialect's Hint, for the errors that leave this package directly.
func hinted(err error) error {
	if h := (dialect{}).Hint(err); h != "" {
		return fmt.Errorf("%w (%s)", err, h)
	}
	return err
}
