package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/keptfile"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/store/sqlstore"
	"github.com/emfa/emfa/telemetry"
)

//go:embed default.yaml
var defaultConfig []byte

// loadMode is what a command may do to the embedded default's data directory and which
// secrets it needs.
type loadMode int

const (
	// forServe creates the data directory and its secrets on first use, and needs every
	// secret the configuration names.
	forServe loadMode = iota
	// forReload is serve's reload: as forServe, but it creates nothing. A secret gone
	// from the data directory since start-up fails the reload: generated anew, a new
	// Verify password would lock Verify out, and a new key could open no factor.
	forReload
	// forAdmin opens the store: it creates nothing without --init (a new directory, a new
	// key) and needs only the storage section's secrets (it never sends a code or calls a
	// vendor): others left unset are stand-ins that refuse to be used.
	forAdmin
	// forReading opens no store (check, transform eval): it creates nothing and stands in
	// for secrets that do not exist yet; unset variables are warnings unless strict.
	forReading
)

// storeOptions are the flags of a command that opens the store.
type storeOptions struct {
	config string
	init   bool // create the default data directory and its secrets, as serve would
	// hideSecrets prints where a generated Verify password is kept, not the password
	// itself (emfa serve --print-secrets=false; other commands never print it).
	hideSecrets bool
	// strict makes a reading command (check --strict) need every secret.
	strict bool
	// need, for a reading command that is not strict, lists the sections whose secrets it
	// uses (transform eval: its provider's): they stay required.
	need []string
	// keyLossOK lets a command that only reads or removes run on a store sealed with a
	// key the keyring lacks (with a warning), so that a lost key's factors can be listed
	// and removed.
	keyLossOK bool
	// readOnly opens only a store that exists (readsOnly): a SQLite file that is not
	// there is refused, not created.
	readOnly bool
	// bind, for serve, binds the configuration's listeners once it is read and before
	// anything is created (a data directory, a secret, a store): a port in use is refused
	// with nothing left behind.
	bind func(*config.Config) error
	// inspect, for emfa check, returns the embedded default as far as it decoded beside
	// its load's problems (config.InspectData), as check reads a file (config.Inspect):
	// the checks made after loading report theirs in the same run.
	inspect bool
}

// configOptions are the load options of a mode: which unset variables are errors.
func (o storeOptions) configOptions(mode loadMode) config.Options {
	switch {
	case mode == forAdmin:
		return config.Options{Unset: config.UnsetIsWarning, Need: []string{"storage"}}
	case mode == forReading && !o.strict:
		return config.Options{Unset: config.UnsetIsWarning, Need: o.need}
	}
	return config.Options{}
}

// loadConfig reads --config, or the embedded default with its generated secrets.
func loadConfig(o storeOptions, mode loadMode, stderr io.Writer) (*config.Config, error) {
	path, init := o.config, o.init
	opts := o.configOptions(mode)
	if path != "" {
		cfg, err := config.Load(path, opts)
		if err == nil && o.bind != nil && mode == forServe {
			err = o.bind(cfg)
		}
		if err != nil {
			return nil, err
		}
		return cfg, nil
	}
	dataDir := embeddedDataDir()
	create := mode == forServe || init
	keyFile := filepath.Join(dataDir, "encryption.key")
	shown := dataDir // as the operator can find it from anywhere
	if abs, err := filepath.Abs(dataDir); err == nil {
		shown = abs
	}
	info, err := os.Stat(dataDir)
	if err == nil && !info.IsDir() {
		// A file: a store command went on to name storage.dsn, which the operator never set.
		return nil, fmt.Errorf("data directory %s: a file, not a directory%s", dataDir, dataDirHint)
	}
	if errors.Is(err, fs.ErrNotExist) && mode == forReload {
		return nil, fmt.Errorf("the data directory %s is gone: a reload creates none (restart emfa to start afresh)", shown)
	} else if errors.Is(err, fs.ErrNotExist) && mode == forAdmin && !create {
		return nil, fmt.Errorf("no data directory %s, so no store: point at the existing one with --config FILE "+
			"or EMFA_DATA_DIR=DIR, or pass --init to create a new store there", shown)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data directory %s: %w%s", dataDir, err, dataDirHint)
	}
	if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) && (create || mode == forAdmin) && os.Getenv("EMFA_ENCRYPTION_KEY") == "" && os.Getenv("EMFA_STORAGE_DSN") == "" {
		// A store without its key (the file lost, or the store made with
		// EMFA_ENCRYPTION_KEY, now unset) gets no new one: it would open none of the
		// factors sealed before, and, kept, be used by every later start. A command
		// without --init says so too, rather than offer --init.
		db := filepath.Join(dataDir, "emfa.db")
		if _, err := os.Stat(db); err == nil {
			return nil, fmt.Errorf("the store %s exists but its key %s does not: set EMFA_ENCRYPTION_KEY to the key "+
				"that sealed its factors, or restore %s from your backup (to start afresh instead, move %s aside)",
				filepath.Join(shown, "emfa.db"), filepath.Join(shown, "encryption.key"), filepath.Join(shown, "encryption.key"), shown)
		}
	}
	if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) && mode == forAdmin && !create && os.Getenv("EMFA_ENCRYPTION_KEY") == "" {
		return nil, fmt.Errorf("no encryption key in %s: set EMFA_ENCRYPTION_KEY, point at the data directory that has one "+
			"with --config FILE or EMFA_DATA_DIR=DIR, or pass --init to generate a new key (factors sealed with another key "+
			"cannot be verified with it)", filepath.Join(shown, "encryption.key"))
	}
	if create {
		// The configuration first, with stand-ins for the secrets that are not set: one
		// refused (an EMFA_SERVER_LISTEN that is not host:port) leaves no data directory
		// and no generated secret behind, and prints no password for a serve that never ran.
		pre := opts
		pre.LookupEnv = envWith(dataDir, func(_, _ string, n int, _ string) (string, bool) { return standIn(n), true })
		preCfg, err := config.Parse(defaultConfig, "yaml", pre)
		if err != nil {
			return nil, embeddedProblems(dataDir, err)
		}
		if o.bind != nil && mode == forServe { // the listeners' addresses do not depend on the secrets
			if err := o.bind(preCfg); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory %s: %w%s", dataDir, err, dataDirHint)
		}
	}
	// secret is a generated secret of section: kept in the data directory, generated there
	// only by a command that may create it, else a stand-in the command never uses. A
	// command that uses it (emfa verify register sends the Verify password to the tenant)
	// finds it unset instead: before, it sent the stand-in, a password anyone could
	// write, and replaced the webhook's working one with it.
	secret := func(file, section string, n int, notice string) (string, bool) {
		path := filepath.Join(dataDir, file)
		if create {
			// Only serve prints the password whole; a store command given --init
			// generates it as a side effect and names its file.
			return keptSecret(path, n, stderr, notice, file == "verify-password" && mode == forServe && !o.hideSecrets)
		}
		v, err := readKeptSecret(path)
		if err == nil {
			return v, true
		}
		if mode == forReload {
			fmt.Fprintf(stderr, "emfa: %v: a reload generates no secret (put the file back, or restart emfa to generate it)\n", err)
			return "", false
		}
		if o.strict || slices.Contains(o.need, section) {
			if errors.Is(err, errEmptySecret) {
				fmt.Fprintf(stderr, "emfa: %s\n", err)
			}
			return "", false
		}
		return standIn(n), true
	}
	lookup := envWith(dataDir, secret)
	opts.LookupEnv = lookup
	opts.Environ = os.Environ // lookup is the process's environment, with the data directory's secrets
	if o.inspect {
		// Its problems are the caller's to word (embeddedProblems), with the checks'.
		cfg, err := config.InspectData(defaultConfig, opts)
		if cfg == nil {
			return nil, embeddedProblems(dataDir, err)
		}
		cfg.Source = embeddedSource(dataDir)
		return cfg, err
	}
	cfg, err := config.Parse(defaultConfig, "yaml", opts)
	if err != nil {
		return nil, embeddedProblems(dataDir, err)
	}
	cfg.Source = embeddedSource(dataDir)
	return cfg, nil
}

// embeddedDataDir is the embedded default's data directory, as EMFA_DATA_DIR names it.
func embeddedDataDir() string { return cmp.Or(os.Getenv("EMFA_DATA_DIR"), "emfa-data") }

// embeddedSource names the embedded default as its problems are said.
func embeddedSource(dataDir string) string { return "embedded default (data in " + dataDir + ")" }

// keptSecrets are the variables of the embedded default whose value serve generates and
// keeps in a file of the data directory when the environment does not set them.
var keptSecrets = map[string]string{"EMFA_VERIFY_PASSWORD": "verify-password", "EMFA_ENCRYPTION_KEY": "encryption.key"}

// embeddedProblems are the embedded default's problems as its reader can act on them. Its
// lines are those of a file the reader never sees, and "embedded default: " prefixed only
// the first of several problems; each is now named by the embedded default and its data
// directory (one an EMFA_* variable set keeps that variable's name), and a generated
// secret that is neither set nor kept yet says where serve keeps it.
func embeddedProblems(dataDir string, err error) error {
	src := embeddedSource(dataDir)
	named := func(e error) error {
		if strings.HasPrefix(e.Error(), src+": ") {
			return e // a check's, annotated already (Config.Annotate)
		}
		return fmt.Errorf("%s: %w", src, e)
	}
	var es config.Errors
	if !errors.As(err, &es) {
		return named(err)
	}
	out := make(config.Errors, len(es))
	for i, e := range es {
		fe, ok := e.(*config.FieldError)
		if !ok {
			out[i] = named(e)
			continue
		}
		cp := *fe
		if cp.File == "" || cp.File == src { // a check's is annotated with the source and its line
			cp.File, cp.Line = src, 0
		}
		for name, file := range keptSecrets {
			if strings.HasPrefix(cp.Msg, "environment variable "+name+" is not set") {
				cp.Msg = fmt.Sprintf("environment variable %s is not set, nor kept in %s: emfa serve generates it there on first start",
					name, filepath.Join(dataDir, file))
			}
		}
		out[i] = &cp
	}
	if inv := (*config.Invalid)(nil); errors.As(err, &inv) {
		return &config.Invalid{Errs: out, Warnings: inv.Warnings}
	}
	return out
}

// dataDirHint says what to do about a data directory emfa cannot use.
const dataDirHint = ": point EMFA_DATA_DIR at a directory emfa's user may write (or create it with that owner), " +
	"or run from a folder where ./emfa-data can be made"

// standIn is a well-formed secret of n bytes for a command that never uses it.
func standIn(n int) string {
	return base64.StdEncoding.EncodeToString(make([]byte, n))
}

// emptySecretWait is how long a secret's file found empty is read again: the process
// that has just created it (keptSecret: exclusively, then written) is writing it.
var emptySecretWait = 2 * time.Second

// errEmptySecret: a kept secret's file holds nothing.
var errEmptySecret = errors.New("is empty")

// readKeptSecret reads the secret kept in path. A file still empty after
// emptySecretWait (its writer died before writing, someone created it by hand) is
// errEmptySecret, which says what to do: read as an empty secret, the configuration
// refused it as a variable not set, which named neither the file nor the cause.
func readKeptSecret(path string) (string, error) {
	b, err := keptfile.Read(path, emptySecretWait)
	if err != nil {
		return "", err
	}
	if v := strings.TrimSpace(string(b)); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s %w: remove it for a new secret to be generated, or write the secret into it", path, errEmptySecret)
}

// keptSecret reads a generated secret from path, or generates n random bytes, writes
// them (base64, mode 0600, created exclusively) and prints the notice once.
func keptSecret(path string, n int, stderr io.Writer, notice string, show bool) (string, bool) {
	if v, err := readKeptSecret(path); err == nil {
		return v, true
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "emfa: %s\n", err)
		return "", false
	}
	buf := make([]byte, n)
	rand.Read(buf)
	secret := base64.StdEncoding.EncodeToString(buf)
	if n != 32 { // a password: URL-safe, no padding, easy to paste into Verify
		secret = base64.RawURLEncoding.EncodeToString(buf)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race: use its secret
		v, err := readKeptSecret(path)
		if err != nil {
			fmt.Fprintf(stderr, "emfa: %s\n", err)
			return "", false
		}
		return v, true
	}
	if err != nil {
		fmt.Fprintf(stderr, "emfa: cannot keep a generated secret in %s: %v\n", path, err)
		return "", false
	}
	_, werr := f.WriteString(secret + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		fmt.Fprintf(stderr, "emfa: cannot keep a generated secret in %s: %v\n", path, werr)
		return "", false
	}
	if show {
		fmt.Fprintf(stderr, "emfa: %s: %s (kept in %s)\n", notice, secret, path)
	} else {
		fmt.Fprintf(stderr, "emfa: %s (kept in %s)\n", notice, path)
	}
	return secret, true
}

// openStore opens the configured backend; migrations run inside Open. A SQLite error
// names its file (a PostgreSQL DSN may hold a password: it is not repeated). opts are a
// SQLite store's further options.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...sqlite.Option) (store.Store, error) {
	switch cfg.Storage.Driver {
	case "postgres":
		st, err := postgres.Open(ctx, cfg.Storage.DSN.Reveal(), postgres.MaxConns(cfg.Storage.MaxConnections),
			postgres.Log(log), postgres.AllowNewerSchema(cfg.Storage.AllowNewerSchema))
		if ce := (*pgconn.ConnectError)(nil); errors.As(err, &ce) {
			// Where the DSN was set, so that a wrong port or host is looked for there, not
			// in the database (pgx's reason names the user, database and address, never
			// the password).
			where := cfg.Annotate(&config.FieldError{Path: "storage.dsn", Msg: "cannot connect to PostgreSQL"})
			if where != nil {
				return nil, fmt.Errorf("%s: %w", where.Error(), err)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("storage (postgres): %w", newerSchemaHint(err))
		}
		return st, nil
	default:
		dsn := cfg.Storage.DSN.Reveal()
		path := sqlite.Path(dsn)
		if path != "" {
			// A first run makes the database's folder (file:/var/lib/emfa/emfa.db), or
			// says which one it could not make.
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return nil, fmt.Errorf("storage.dsn: cannot create the database's folder %s: %w", filepath.Dir(path), err)
			}
		}
		st, err := sqlite.Open(ctx, dsn, append([]sqlite.Option{sqlite.ReadConns(cfg.Storage.MaxConnections), sqlite.Log(log),
			sqlite.AllowNewerSchema(cfg.Storage.AllowNewerSchema)}, opts...)...)
		err = newerSchemaHint(err)
		if err != nil && path != "" {
			return nil, fmt.Errorf("storage.dsn: database %s: %w", path, err)
		}
		return st, err
	}
}

// freshStore is a new SQLite database that serve creates and migrates while the
// transforms compile (a fresh process spends some 20 ms on each, which two CPUs do side
// by side: start-up under 100 ms, issue 16). A database that exists is opened only once
// the configuration has passed its checks, so that a file serve refuses migrates
// nothing; a new one it refuses is removed (discard), as if it had never been made.
type freshStore struct {
	path      string
	dirExists bool
	done      chan struct{}
	st        store.Store
	err       error
}

// openFreshStore starts opening cfg's store when it is a SQLite file that does not
// exist yet; nil otherwise (the store is opened after the checks).
func openFreshStore(ctx context.Context, cfg *config.Config, log *slog.Logger) *freshStore {
	if cfg.Storage.Driver == "postgres" {
		return nil
	}
	path := sqlite.Path(cfg.Storage.DSN.Reveal())
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	_, err := os.Stat(filepath.Dir(path))
	f := &freshStore{path: path, dirExists: err == nil, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.st, f.err = openStore(ctx, cfg, log)
	}()
	return f
}

func (f *freshStore) wait() (store.Store, error) {
	<-f.done
	return f.st, f.err
}

// discard closes the store and removes what opening it made: the database, if this
// process created it (another may have, meanwhile), and its folder if it made that.
func (f *freshStore) discard() {
	if f == nil {
		return
	}
	st, err := f.wait()
	if err != nil {
		// Opening failed, once it may have made the file (empty) and its folder: they
		// go too, unless another process wrote to a file it made meanwhile (remove).
		_ = f.remove()
		return
	}
	created := f.created()
	st.Close()
	if created {
		_ = f.remove() // kept when another process wrote to it meanwhile
	}
}

// created reports whether opening made the database: another process may have made it
// meanwhile, and it is then never this one's to remove.
func (f *freshStore) created() bool {
	if f == nil || f.err != nil {
		return false
	}
	c, ok := f.st.(interface{ Created() bool })
	return ok && c.Created()
}

// remove removes the database opening made, closed by then, and its folder if it made
// that (only if empty: the lock file serve takes stays, as another serve may hold it).
// A database that holds a row is kept: another process wrote it meanwhile (an `emfa
// users add` beside a first start), and what it wrote is not this start's to drop.
// The rows are looked at under SQLite's write lock, held until the file is unlinked,
// so that no write commits between the look and the removal. The error says why a
// database was kept.
func (f *freshStore) remove() error {
	if err := removeUnwritten(f.path); err != nil {
		return err
	}
	for _, p := range []string{f.path + "-wal", f.path + "-shm"} {
		os.Remove(p)
	}
	if !f.dirExists {
		os.Remove(filepath.Dir(f.path)) // only if empty
	}
	return nil
}

// removeUnwritten removes the SQLite database at path if it holds its schema and
// nothing else (goose's version rows aside), and says why it kept it otherwise.
func removeUnwritten(path string) (err error) {
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path) +
		"?mode=rw&_pragma=busy_timeout(5000)&_txlock=immediate" // rw: none is created
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil // gone already: its -wal and -shm are removed still
	}
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'goose_db_version'`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, t := range tables {
		var written bool
		q := `SELECT EXISTS (SELECT 1 FROM "` + strings.ReplaceAll(t, `"`, `""`) + `")`
		if err := tx.QueryRowContext(ctx, q).Scan(&written); err != nil {
			return err
		}
		if written {
			return fmt.Errorf("it holds rows written meanwhile (table %s): another process's (an emfa users add beside the start), or this start's directory sync's", t)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removedStore is a command's err, said as what happened when the SQLite store it opened
// was removed before it wrote (a serve whose first start failed removes the store it
// had just created, under the write lock): the store refused the write, which would
// have gone to the unlinked file, and nothing the command wrote is kept anywhere.
func removedStore(ctx context.Context, e *env, err error) error {
	st, ok := e.store.(*sqlite.Store)
	if !ok || st.Ping(ctx) == nil {
		return err
	}
	path := sqlite.Path(e.cfg.Storage.DSN.Reveal())
	if _, serr := os.Stat(path); !errors.Is(serr, fs.ErrNotExist) {
		return err
	}
	return fmt.Errorf("storage.dsn: database %s was removed after this command opened it (a serve whose first start "+
		"failed removes the store it had just created): nothing was written; run the command again", path)
}

// newerSchemaHint adds to a refusal of a schema newer than this emfa's how a rollback
// runs on one anyway (README, "Upgrading and downgrading").
func newerSchemaHint(err error) error {
	var newer *sqlstore.NewerSchemaError
	if !errors.As(err, &newer) {
		return err
	}
	return fmt.Errorf("%w (to roll back on purpose across migrations that only add, set storage.allowNewerSchema: true, "+
		"EMFA_STORAGE_ALLOWNEWERSCHEMA=true: see the README, Upgrading and downgrading)", err)
}

func newKeyring(cfg *config.Config) (*builtin.Keyring, error) {
	current, err := config.DecodeKey(cfg.Storage.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("%s: storage.encryptionKey: %w", cfg.Source, err)
	}
	var previous [][]byte
	for _, s := range cfg.Storage.PreviousEncryptionKeys {
		k, err := config.DecodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("%s: storage.previousEncryptionKeys: %w", cfg.Source, err)
		}
		previous = append(previous, k)
	}
	return builtin.NewKeyring(current, previous...)
}

// checkKeys refuses a store holding factor secrets sealed with a key the keyring lacks:
// served, each of those factors would answer 503, and new ones would be sealed with
// another key than the old ones. It reads only the distinct key ids (an index), so it
// costs start-up one query; the error names key ids, which reveal nothing of a key.
// Only factors are looked at: a code's transaction (minutes), an admin Idempotency-Key's
// recorded answer (server.idempotency.ttl) and a self-service session sealed with a key
// dropped on purpose fail on their own, each saying why, and are gone soon after; refusing
// to start for them would hold a deliberate rotation back until they expire, and finding
// them means reading every row's sealed data, not an index (README, Security model).
func checkKeys(ctx context.Context, st store.Store, keys *builtin.Keyring, cfg *config.Config) error {
	ids, err := st.FactorKeyIDs(ctx)
	if err != nil {
		return err
	}
	var unknown []string
	for _, id := range ids {
		if !keys.Has(id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	hint := ""
	if strings.HasPrefix(cfg.Source, "embedded") {
		hint = " (with EMFA_ENCRYPTION_KEY unset, the data directory's encryption.key is used; a rotation needs --config)"
	}
	return fmt.Errorf("%s: the store holds factor secrets sealed with key %s, which the configured keys do not include "+
		"(storage.encryptionKey is key %s): set storage.encryptionKey (EMFA_ENCRYPTION_KEY) to the key that sealed them%s, "+
		"or, to rotate to a new key, keep that one in storage.previousEncryptionKeys",
		cfg.Source, strings.Join(unknown, ", "), keys.CurrentID(), hint)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Log.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(adapter.NewLogHandler(w, opts)) // slog.JSONHandler's lines; the access log's written directly
}

// env is everything a command needs once configuration is loaded.
type env struct {
	cfg     *config.Config
	store   store.Store
	keys    *builtin.Keyring
	log     *slog.Logger
	now     func() time.Time
	closers []provider.Closer // engines holding connections, closed before the store
	senders senderSet         // delivery.go
	// sendRetention is the longest send-limit window of the providers built.
	sendRetention time.Duration
	// senderOverride, when set, builds every sender instead (replay captures codes).
	senderOverride func(config.Delivery) (delivery.Sender, error)
	// swept, when set, learns the outcome of every sweep (deps.swept).
	swept func(builtin.Swept, error)
	// metrics, when set (serve), counts what providers, engines and the adapter do.
	metrics *telemetry.Metrics
	// tracing, when set (serve with tracing.endpoint), wraps the vendor clients'
	// transports; the server's handler is wrapped by serve.
	tracing *telemetry.Tracing
	// webhooks, when set (serve), are cfg's remote webhooks, compiled before the store
	// opens (their problems refused before it is touched).
	webhooks *webhooks
	// fresh, when set (serve), is the SQLite store this start created: serve removes it
	// when it fails before serving, so that the next start is a first start again.
	fresh *freshStore
}

// ownEngines is an env on e's configuration, store, keys and services (its compiled
// webhooks among them) whose engines and senders are its own, built and closed apart
// from e's: directory sync's, beside a snapshot's.
func (e *env) ownEngines() *env {
	return &env{cfg: e.cfg, store: e.store, keys: e.keys, log: e.log, now: e.now, swept: e.swept,
		senderOverride: e.senderOverride, metrics: e.metrics, tracing: e.tracing, webhooks: e.webhooks}
}

// openEnv loads the configuration and opens the store, for serve (mode forServe) or an
// admin command (forAdmin).
func (d *deps) openEnv(ctx context.Context, o storeOptions, mode loadMode) (*env, error) {
	cfg, err := loadConfig(o, mode, d.stderr)
	if err != nil {
		return nil, err
	}
	keys, err := newKeyring(cfg)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg, d.stderr)
	var wh *webhooks
	var fresh *freshStore
	if mode == forServe {
		wh = compileWebhooks(cfg)
		fresh = openFreshStore(ctx, cfg, log)
	}
	// A transform that does not compile is a configuration error, said before the store
	// is touched: no database created, no migration run, for a file serve refuses anyway.
	problems := wh.problems()
	if problems == nil && mode == forServe {
		// So is a builtin provider's section that does not decode (as emfa check finds it).
		problems = builtinProblems(cfg)
	}
	if problems == nil && mode == forServe {
		// And a TLS file that is not there or does not load: it was refused only after the
		// store was made, without its line.
		if errs := tlsProblems(cfg); len(errs) > 0 {
			problems = errs
		}
	}
	if problems != nil {
		fresh.discard()
		return nil, problems
	}
	if mode == forAdmin && o.readOnly && cfg.Storage.Driver != "postgres" {
		if path := sqlite.Path(cfg.Storage.DSN.Reveal()); path != "" {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: storage.dsn: no database at %s%s: "+
					"this command only reads, and creates none", cfg.Source, path, relativeTo(path))
			}
		}
	}
	var st store.Store
	if fresh != nil {
		if st, err = fresh.wait(); err != nil {
			fresh.discard() // the empty file it made, and its folder
		}
	} else if mode == forAdmin {
		// A command holds no serve lock: a serve whose first start fails may remove the
		// store under it, and each of its commits looks that it has not (removedStore).
		st, err = openStore(ctx, cfg, log, sqlite.CheckFileAtCommit())
	} else {
		st, err = openStore(ctx, cfg, log)
	}
	if err != nil {
		return nil, err
	}
	if sq, ok := st.(*sqlite.Store); ok && sq.Created() && mode == forAdmin && !strings.HasPrefix(cfg.Source, "embedded default") {
		// serve logs this itself; a command that made a new store (a relative
		// storage.dsn run from another folder) would otherwise report only its own work.
		path := sqlite.Path(cfg.Storage.DSN.Reveal())
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		fmt.Fprintf(d.stderr, "emfa: created a new store at %s: it was not there (if it should have been, check storage.dsn "+
			"in %s: a relative path starts in the working directory)\n", path, cfg.Source)
	}
	if err := checkKeys(ctx, st, keys, cfg); err != nil {
		if mode != forAdmin || !o.keyLossOK {
			st.Close()
			return nil, fmt.Errorf("%w; nothing was changed", err)
		}
		// A command that only reads or removes: with the key lost for good, it is how the
		// operator lists and removes the factors nothing can verify any more.
		fmt.Fprintf(d.stderr, "warning: %v; the factors sealed with it cannot be verified\n", err)
	}
	e := &env{cfg: cfg, store: st, keys: keys, log: log, now: d.now, swept: d.swept, webhooks: wh}
	if fresh.created() {
		e.fresh = fresh
	}
	if mode == forAdmin {
		// Admin commands send nothing (and may run without a sender's secrets).
		e.senderOverride = func(config.Delivery) (delivery.Sender, error) { return noSender{}, nil }
	}
	return e, nil
}

func (e *env) Close() error {
	var errs []error
	for _, c := range e.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(append(errs, e.store.Close())...)
}

// configDir is where relative paths in the configuration (webhookFile) start.
func configDir(cfg *config.Config) string {
	if strings.HasPrefix(cfg.Source, "embedded") {
		return "."
	}
	return filepath.Dir(cfg.Source)
}

// remoteWebhook loads a remote provider's webhook and checks it; errors and warnings are
// prefixed with where it came from.
func remoteWebhook(cfg *config.Config, i int) (*remote.Webhook, []string, error) {
	w, _, warnings, err := checkedWebhook(cfg, i)
	return w, warnings, err
}

// checkedWebhook is remoteWebhook, and what the check compiled (nil when it found
// problems, even ones it forgave), for remote.New to build on.
func checkedWebhook(cfg *config.Config, i int) (*remote.Webhook, *remote.Compiled, []string, error) {
	p := cfg.Providers[i]
	w, source, err := remote.LoadWebhook(p.Remote, configDir(cfg))
	where := fmt.Sprintf("providers[%d] (%s).remote", i, p.CredentialPrefix)
	if source != "" {
		where += " from " + source
	}
	var es config.Errors
	if errors.As(err, &es) && w == nil {
		return nil, nil, nil, remoteProblems(cfg, i, source, where, es) // each at its line
	}
	loaded := es // a duration that did not read: the rest is checked too, and said with it
	if err != nil && loaded == nil {
		if f := readWebhookFile(cfg, i, source); source != "" && f != nil {
			if placed, ok := f.loadProblem(err); ok {
				return nil, nil, nil, placed // check_webhookfile.go
			}
		}
		return nil, nil, nil, fmt.Errorf("%s: %s: %w", cfg.Source, where, err)
	}
	compiled, warnings, err := remote.CheckCompiled(w)
	warnings = remoteWarnings(cfg, i, source, where, warnings)
	if es, ok := err.(config.Errors); ok {
		// A value whose ${NAME} is unset (emfa check without the secrets) was warned about.
		var kept config.Errors
		for _, e := range es {
			if fe, ok := e.(*config.FieldError); !ok || !cfg.Unset(fmt.Sprintf("providers[%d].remote.%s", i, fe.Path)) {
				kept = append(kept, e)
			}
		}
		if err = nil; len(kept) > 0 {
			err = kept
		}
	}
	if err != nil && loaded != nil {
		var more config.Errors
		if !errors.As(err, &more) {
			more = config.Errors{err}
		}
		err = append(slices.Clone(loaded), more...)
	} else if loaded != nil {
		err = loaded
	}
	if err != nil {
		return nil, nil, warnings, remoteProblems(cfg, i, source, where, err)
	}
	return w, compiled, warnings, nil
}

// remoteProblems names where each of a remote provider's problems is: the configuration file
// and the line of the key it is about (a transform's CEL position follows in its message),
// or, for a webhook loaded from webhookFile, that file.
func remoteProblems(cfg *config.Config, i int, source, where string, err error) config.Errors {
	es := prefixed(where+".", err)
	var orig config.Errors
	if !errors.As(err, &orig) {
		orig = config.Errors{err}
	}
	if source != "" {
		// Each problem of a key the file has at its line and column there; one of a key
		// the configuration's remote section set (or of none) as before.
		// Those placed come in the file's order, before the others.
		f := readWebhookFile(cfg, i, source) // check_webhookfile.go
		out := prefixed(cfg.Source+": ", es)
		order := make([]int, len(out))
		for j, e := range orig {
			order[j] = math.MaxInt
			if fe, ok := e.(*config.FieldError); ok && f != nil && fe.Path != "" {
				if off, ok := f.keyOffset(fe.Path); ok {
					out[j], order[j] = f.problem(f.at(off), fe.Path, fe.Msg), off
				}
			}
		}
		idx := make([]int, len(out))
		for j := range idx {
			idx[j] = j
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(order[a], order[b]) })
		sorted := make(config.Errors, len(out))
		for j, k := range idx {
			sorted[j] = out[k]
		}
		return sorted
	}
	out := make(config.Errors, len(es))
	for j, e := range es {
		line := 0
		if fe, ok := orig[j].(*config.FieldError); ok {
			line = cfg.Line(fmt.Sprintf("providers[%d].remote.%s", i, fe.Path))
		}
		if line > 0 {
			out[j] = fmt.Errorf("%s:%d: %w", cfg.Source, line, e)
		} else {
			out[j] = fmt.Errorf("%s: %w", cfg.Source, e)
		}
	}
	return out
}

// remoteWarnings are a remote provider's warnings ("path: message", the path in its
// remote section) as its problems are named (remoteProblems): the file, and the line of
// the key when the webhook is the file's own, or the webhookFile's line and column of a
// key the file has. Without the line, the operator of a
// provider with dozens of transforms could not tell which one a warning meant.
func remoteWarnings(cfg *config.Config, i int, source, where string, warnings []string) []string {
	out := make([]string, len(warnings))
	var f *webhookFile
	if source != "" && len(warnings) > 0 {
		f = readWebhookFile(cfg, i, source) // check_webhookfile.go
	}
	for j, msg := range warnings {
		// A warning of a key the webhookFile has is at its line and column there, as
		// its problems are (remoteProblems).
		if path, rest, ok := strings.Cut(msg, ": "); ok && f != nil {
			if at, ok := f.keyAt(path); ok {
				out[j] = f.problem(at, path, rest).Error()
				continue
			}
		}
		line := 0
		if path, _, ok := strings.Cut(msg, ": "); ok && source == "" {
			line = cfg.Line(fmt.Sprintf("providers[%d].remote.%s", i, path))
		}
		if line > 0 {
			out[j] = fmt.Sprintf("%s:%d: %s.%s", cfg.Source, line, where, msg)
		} else {
			out[j] = fmt.Sprintf("%s: %s.%s", cfg.Source, where, msg)
		}
	}
	return out
}

// webhooks are the remote webhooks of one configuration, loaded and compiled on a
// goroutine of their own, while serve reads its keys and sets up its logger. In a fresh
// process, compiling IBM's DUO transforms takes some 40-50 ms. serve waits for it before
// it opens an existing store (problems): a transform that does not compile is refused
// with no migration run. A new SQLite database is made beside the compile (freshStore),
// and removed when the configuration is refused.
type webhooks struct {
	cfg  *config.Config
	done chan struct{}
	res  []checkedResult // by provider index; remote providers only
	// warned: a provider's warnings were logged. Several engines are built from one
	// compile (the snapshot's, directory sync's): the warnings are said once.
	mu     gosync.Mutex
	warned map[int]bool
}

// firstWarning reports whether providers[i]'s warnings are yet to be logged, and takes
// them: true once per compile. Without one (wh nil: an admin command builds an engine
// once) it is always true.
func (wh *webhooks) firstWarning(cfg *config.Config, i int) bool {
	if wh == nil || wh.cfg != cfg {
		return true
	}
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if wh.warned[i] {
		return false
	}
	if wh.warned == nil {
		wh.warned = map[int]bool{}
	}
	wh.warned[i] = true
	return true
}

type checkedResult struct {
	w        *remote.Webhook
	compiled *remote.Compiled
	warnings []string
	err      error
}

// compileWebhooks starts compiling cfg's remote webhooks.
func compileWebhooks(cfg *config.Config) *webhooks {
	wh := &webhooks{cfg: cfg, done: make(chan struct{}), res: make([]checkedResult, len(cfg.Providers))}
	go func() {
		defer close(wh.done)
		for i, p := range cfg.Providers {
			if p.Engine == config.EngineRemote {
				wh.res[i] = compileWebhook(cfg, i)
			}
		}
	}()
	return wh
}

// compileWebhook is checkedWebhook with a panic returned as an error: it runs on a
// goroutine of its own, where a panic would end the process.
func compileWebhook(cfg *config.Config, i int) (r checkedResult) {
	defer func() {
		if p := recover(); p != nil {
			r = checkedResult{err: fmt.Errorf("providers[%d] (%s).remote: %v", i, cfg.Providers[i].CredentialPrefix, p)}
		}
	}()
	r.w, r.compiled, r.warnings, r.err = checkedWebhook(cfg, i)
	return r
}

// builtinProblems are the problems of cfg's builtin providers' sections, each with its
// file and line, found without a store (builtin.Check).
func builtinProblems(cfg *config.Config) error {
	probe := &env{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	defer probe.closeEngines() // the senders it built
	var errs config.Errors
	for i, p := range cfg.Providers {
		if p.Engine != config.EngineBuiltin {
			continue
		}
		if _, err := builtin.Check(probe.builtinOptions(i)); err != nil {
			errs = append(errs, cfg.Annotate(err).(config.Errors)...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// problems waits for the compile and returns every remote provider's problems, in the
// providers' order; nil when there are none (or wh is nil).
func (wh *webhooks) problems() error {
	if wh == nil {
		return nil
	}
	<-wh.done
	var all config.Errors
	for _, r := range wh.res {
		var es config.Errors
		if errors.As(r.err, &es) {
			all = append(all, es...)
		} else if r.err != nil {
			all = append(all, r.err)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return all
}

// checked is checkedWebhook(cfg, i), taken from what was compiled ahead when cfg is the
// configuration it was compiled for. With none (wh nil), or for another configuration (a
// reload), it compiles now.
func (wh *webhooks) checked(cfg *config.Config, i int) (*remote.Webhook, *remote.Compiled, []string, error) {
	if wh == nil || wh.cfg != cfg {
		return checkedWebhook(cfg, i)
	}
	<-wh.done
	r := wh.res[i]
	return r.w, r.compiled, r.warnings, r.err
}

// prefixed puts prefix before every problem of a config.Errors (or before err).
func prefixed(prefix string, err error) config.Errors {
	var es config.Errors
	if !errors.As(err, &es) {
		return config.Errors{fmt.Errorf("%s%w", prefix, err)}
	}
	out := make(config.Errors, len(es))
	for i, e := range es {
		out[i] = fmt.Errorf("%s%w", prefix, e)
	}
	return out
}

// builtinOptions are what the builtin engine of providers[i] is built from: its section
// as loaded, which the engine decodes, each factor type its own.
func (e *env) builtinOptions(i int) builtin.Options {
	p := e.cfg.Providers[i]
	o := builtin.Options{
		Store: e.store, Keyring: e.keys, Now: e.now, Log: e.log,
		Config: p.Builtin, Capabilities: p.Capabilities, Senders: e.sender, Path: fmt.Sprintf("providers[%d]", i),
		Provider: p.CredentialPrefix,
		// What the sweeper of pending factors deletes by (lifecycle.New's default).
		PendingLifetime: cmp.Or(e.cfg.Lifecycle.ActivationLifetime, lifecycle.DefaultActivationLifetime),
	}
	if e.metrics != nil {
		o.Observer = engineObserver{e.metrics, p.CredentialPrefix, p.Capabilities}
	}
	return o
}

// builtinEngine builds the engine of providers[i], a builtin provider.
func (e *env) builtinEngine(i int) (*builtin.Engine, error) {
	b, err := builtin.New(e.builtinOptions(i))
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", e.cfg.Providers[i].CredentialPrefix, err)
	}
	return b, nil
}

// remoteEngine builds the engine of providers[i], a remote provider; it closes with e's
// engines (closeEngines).
func (e *env) remoteEngine(i int) (*remote.Engine, error) {
	p := e.cfg.Providers[i]
	w, compiled, warnings, err := e.webhooks.checked(e.cfg, i)
	if err != nil {
		return nil, err
	}
	if e.webhooks.firstWarning(e.cfg, i) {
		for _, msg := range warnings {
			e.log.Warn("transform: " + msg)
		}
	}
	ro := remote.Options{Webhook: w, Compiled: compiled, Provider: p.CredentialPrefix, Store: e.store,
		ChallengeLifetime: p.ChallengeLifetime, Log: e.log, Now: e.now, Audit: e.store}
	if e.metrics != nil {
		ro.Observer = e.metrics
	}
	if e.tracing != nil {
		ro.WrapTransport = e.tracing.Transport
	}
	r, err := remote.New(ro)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.CredentialPrefix, err)
	}
	e.closers = append(e.closers, r)
	return r, nil
}

// providers builds every configured provider around its engine.
func (e *env) providers() ([]*provider.Provider, error) {
	var out []*provider.Provider
	for i, p := range e.cfg.Providers {
		var engine provider.Engine
		switch p.Engine {
		case config.EngineRemote:
			r, err := e.remoteEngine(i)
			if err != nil {
				return nil, err
			}
			engine = r
		case config.EngineBuiltin:
			b, err := e.builtinEngine(i)
			if err != nil {
				return nil, err
			}
			for _, msg := range b.Warnings() {
				e.log.Warn("configuration: " + msg)
			}
			// Send records must outlive the longest window any provider's limits look at.
			e.sendRetention = max(e.sendRetention, b.SendRetention())
			engine = b
		default:
			return nil, fmt.Errorf("provider %s: unknown engine %q", p.CredentialPrefix, p.Engine)
		}
		pr := &provider.Provider{
			Name: p.Name, CredentialPrefix: p.CredentialPrefix, Enabled: p.IsEnabled(),
			Capabilities: p.Capabilities, Engine: engine, Log: e.log, Audit: e.store, Now: e.now,
		}
		if e.metrics != nil {
			pr.Observer = e.metrics
		}
		policy, err := e.policy(p) // sync.go
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", p.CredentialPrefix, err)
		}
		pr.Policy = policy
		out = append(out, pr)
	}
	return out, nil
}

// pushProvider reports whether a builtin provider exposes push: only then are the
// device API's routes served.
func (e *env) pushProvider() bool {
	for _, p := range e.cfg.Providers {
		if p.Engine == config.EngineBuiltin && slices.ContainsFunc(p.Capabilities, func(c string) bool {
			return strings.EqualFold(c, builtin.TypePush)
		}) {
			return true
		}
	}
	return false
}

var _ adapter.Devices = (*builtin.Devices)(nil)

// noSender stands in for every sender of an admin command, which delivers nothing.
type noSender struct{}

func (noSender) Send(context.Context, delivery.Message) error {
	return errors.New("an admin command sends nothing")
}
func (noSender) Kind() string                 { return "none" }
func (noSender) Serves(delivery.Channel) bool { return true }

// devices is the device API's backend, or nil (no device routes) when no builtin
// provider exposes push. An approval counts only while the challenge's provider, among
// providers, would not refuse it.
func (e *env) devices(providers []*provider.Provider) (adapter.Devices, error) {
	if !e.pushProvider() {
		return nil, nil
	}
	return builtin.NewDevices(builtin.DevicesOptions{Store: e.store, Now: e.now, Log: e.log, Refusal: refusalOf(providers)})
}

// refusalOf is builtin.DevicesOptions.Refusal over providers: the refusal of the one
// with the challenge's credential prefix; a challenge of a provider no longer configured
// (a reload removed it) is refused.
func refusalOf(providers []*provider.Provider) func(ctx context.Context, prefix, username, capability string) (string, error) {
	return func(ctx context.Context, prefix, username, capability string) (string, error) {
		for _, p := range providers {
			if strings.EqualFold(p.CredentialPrefix, prefix) {
				return p.Refusal(ctx, username, capability)
			}
		}
		return "provider " + prefix + " is no longer configured", nil
	}
}

// envWith is the environment as the embedded default reads it: the process's, then
// EMFA_DATA_DIR as dataDir, and the Verify password and the encryption key as secret
// gives them (kept in the data directory, generated, or stand-ins).
func envWith(dataDir string, secret func(file, section string, n int, notice string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			return v, true
		}
		switch name {
		case "EMFA_DATA_DIR":
			return dataDir, true
		case "EMFA_VERIFY_PASSWORD":
			return secret(keptSecrets[name], "server", 24, "generated the password Verify must send (Basic auth, user 'verify')")
		case "EMFA_ENCRYPTION_KEY":
			return secret(keptSecrets[name], "storage", 32, "generated the key that encrypts factor secrets: BACK IT UP — without it no factor can be verified")
		}
		return "", false
	}
}

// relativeTo says where a relative path starts: " (DIR/PATH: a relative path starts in
// the working directory)", or nothing for an absolute one.
func relativeTo(path string) string {
	if filepath.IsAbs(path) {
		return ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return " (a relative path starts in the working directory)"
	}
	return " (" + abs + ": a relative path starts in the working directory)"
}
