package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/emfa/emfa/store"
)

// Migrations: goose applies the schema's migrations when a store opens. This emfa refuses
// a database whose schema is newer than its own migrations (one a newer emfa migrated)
// unless told to run on it, and says in the log which migrations it applied.

// MigrateOptions says how Open migrates.
type MigrateOptions struct {
	// AllowNewer runs on a schema newer than the migrations this emfa has (a rollback to
	// an older emfa across migrations that only add), with a warning, rather than
	// refusing it (NewerSchemaError).
	AllowNewer bool
	// Log, when set, hears of the migrations applied (INFO, one record, none when there
	// were none) and of a newer schema allowed (WARN).
	Log *slog.Logger
}

// NewerSchemaError: the database's schema is at Version, beyond Known, the last migration
// this emfa has. An older emfa than the one that migrated it is running: its writes would
// not keep up what the newer migrations added, so it refuses to start.
type NewerSchemaError struct {
	Version, Known int64
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("the database's schema is version %d, newer than this emfa's %d: this emfa is older than "+
		"the one that last migrated it; run that version or newer, or restore a backup taken before", e.Version, e.Known)
}

// Migrate applies to db the goose migrations in fsys's directory "migrations" that it has
// not had yet.
func Migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS) error {
	return MigrateWith(ctx, db, dialect, fsys, MigrateOptions{})
}

// MigrateWith is Migrate as o says: a schema newer than fsys's migrations is refused
// (NewerSchemaError) or, allowed, left as it is; the migrations applied are logged.
func MigrateWith(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS, o MigrateOptions) error {
	p, err := provider(db, dialect, fsys)
	if err != nil {
		return err
	}
	from, err := p.GetDBVersion(ctx) // creates the version table when there is none: 0
	if err != nil {
		return err
	}
	var applied []*goose.MigrationResult
	for v := from; ; {
		if newer, err := o.newer(ctx, v, p); newer || err != nil {
			o.logApplied(ctx, from, applied)
			return err
		}
		done, err := p.Up(ctx)
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			done = partial.Applied // those before the one that failed are in
		}
		applied = append(applied, done...)
		if err == nil {
			o.logApplied(ctx, from, applied)
			return nil
		}
		// Another process may have applied the migration that failed since this one
		// read what was pending: on SQLite nothing locks the database across goose's
		// transactions, one a migration (a command started beside a restarted server;
		// PostgreSQL's starts take the migration lock first). Then it failed on what
		// that process created ("table sends already exists"), changing nothing, and
		// the migrations go on from where the database is now. Each retry follows a
		// migration another process applied: there are as many at most as migrations.
		if partial != nil && partial.Failed != nil {
			if now, verr := p.GetDBVersion(ctx); verr == nil && now >= partial.Failed.Source.Version {
				v = now
				continue
			}
		}
		o.logApplied(ctx, from, applied)
		return explainMigration(ctx, db, err)
	}
}

// MigrateTo applies the migrations up to and including version: a database as an older
// emfa left it, for the tests of a migration.
func MigrateTo(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS, version int64) error {
	p, err := provider(db, dialect, fsys)
	if err != nil {
		return err
	}
	if _, err = p.UpTo(ctx, version); err != nil {
		return explainMigration(ctx, db, err)
	}
	return nil
}

// newer reports whether the schema, at version v, is newer than p's last migration: an
// error (NewerSchemaError) unless o allows it, when it is said in the log.
func (o MigrateOptions) newer(ctx context.Context, v int64, p *goose.Provider) (bool, error) {
	known := known(p)
	if v <= known {
		return false, nil
	}
	err := &NewerSchemaError{Version: v, Known: known}
	if !o.AllowNewer {
		return true, err
	}
	if o.Log != nil {
		o.Log.WarnContext(ctx, "running on a newer schema, as allowed: what the newer migrations added is not kept up by this emfa's writes",
			"schema", v, "known", known)
	}
	return true, nil
}

// logApplied says, in one record, which migrations were applied to a schema at version
// from; nothing when none was.
func (o MigrateOptions) logApplied(ctx context.Context, from int64, applied []*goose.MigrationResult) {
	if o.Log == nil || len(applied) == 0 {
		return
	}
	names := make([]string, len(applied))
	for i, r := range applied {
		names[i] = strings.TrimSuffix(path.Base(r.Source.Path), ".sql")
	}
	o.Log.InfoContext(ctx, "migrated the database's schema",
		"from", from, "to", applied[len(applied)-1].Source.Version, "migrations", strings.Join(names, ", "))
}

// known is the version of p's last migration.
func known(p *goose.Provider) int64 {
	srcs := p.ListSources()
	if len(srcs) == 0 {
		return 0
	}
	return srcs[len(srcs)-1].Version
}

// explainMigration says what stopped a migration where the data, not the database, is
// the cause, and what to do: so far, users whose names differ only by letter case, which
// migration 9 (users_name_folded) refuses. That migration ran in a transaction and
// changed nothing, and the emfa that wrote the database still runs on it.
func explainMigration(ctx context.Context, db *sql.DB, err error) error {
	names, qerr := query(ctx, db, func(sc scanner) (string, error) {
		var n string
		return n, sc.Scan(&n)
	}, `SELECT name FROM users WHERE lower(name) IN
		(SELECT lower(name) FROM users GROUP BY lower(name) HAVING COUNT(*) > 1)
		ORDER BY lower(name), name LIMIT 20`)
	if qerr != nil || len(names) == 0 {
		return err
	}
	// Names of one user, folded alike, are adjacent: "A" and "a", "B" and "b".
	var groups []string
	for i, n := range names {
		if i > 0 && store.FoldName(n) == store.FoldName(names[i-1]) {
			groups[len(groups)-1] += " and " + strconv.Quote(n)
		} else {
			groups = append(groups, "users "+strconv.Quote(n))
		}
	}
	more := ""
	if len(names) == 20 {
		more = " (and maybe more)"
	}
	return fmt.Errorf("%s differ only by letter case%s, and this emfa matches user names regardless of "+
		"case, as SCIM does. The upgrade stopped before it changed them: with the emfa that wrote this "+
		"database, delete all but one of each (emfa users delete NAME), then start this one again: %w", strings.Join(groups, "; "), more, err)
}

// Pending reports whether MigrateWith would apply anything: a migration the database has
// not recorded, including one older than its newest (goose refuses those). A schema newer
// than fsys's migrations is refused as MigrateWith refuses it, or, allowed, has nothing
// pending. It creates goose's version table when the database has none.
func Pending(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS, o MigrateOptions) (bool, error) {
	p, err := provider(db, dialect, fsys)
	if err != nil {
		return false, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return false, err
	}
	if newer, err := o.newer(ctx, v, p); newer || err != nil {
		return false, err
	}
	if v < known(p) {
		return true, nil
	}
	return p.HasPending(ctx)
}

func provider(db *sql.DB, dialect goose.Dialect, fsys fs.FS) (*goose.Provider, error) {
	dir, err := fs.Sub(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	st, err := database.NewStore(dialect, goose.DefaultTablename)
	if err != nil {
		return nil, err
	}
	ext, ok := st.(database.StoreExtender)
	if !ok {
		return nil, fmt.Errorf("goose's store for %s lacks TableExists", dialect)
	}
	return goose.NewProvider(goose.DialectCustom, db, dir, goose.WithStore(onceStore{ext}))
}

// errAppliedElsewhere: the migration was recorded by another process since this one
// found it pending.
var errAppliedElsewhere = errors.New("applied by another process meanwhile")

// onceStore is goose's store, but a migration's version is recorded only where it is not
// yet: in the migration's transaction, which then rolls back whole. A process that found a
// migration pending before another applied it (SQLite, where nothing locks the database
// across goose's transactions) ran it again once it had the write lock, and a migration
// that fails on nothing when run twice (10 rebuilds an index, 11 rewrites keys already
// rewritten) was run, and recorded, twice. MigrateWith goes on from the version recorded.
type onceStore struct{ database.StoreExtender }

func (s onceStore) Insert(ctx context.Context, db database.DBTxConn, req database.InsertRequest) error {
	if req.Version > 0 { // 0 comes with the table
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+s.Tablename()+` WHERE version_id = $1`, req.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("migration %d: %w", req.Version, errAppliedElsewhere)
		}
	}
	return s.StoreExtender.Insert(ctx, db, req)
}
