package sqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/emfa/emfa/store/sqlstore"
)

// schema is the schema the migrations build on an empty database, with goose's version
// rows, as one script (TestSchemaSnapshot keeps it equal to what goose builds; rewrite
// it with EMFA_WRITE_SCHEMA=1 go test ./store/sqlite -run TestSchemaSnapshot). A database
// file Open has just created gets it in one transaction instead of the migrations one
// transaction each: goose prepares, runs and commits each migration and its version row
// by itself, and SQLite re-reads the schema after each ALTER TABLE; on a new database
// that was most of Open's CPU (issue 16's start-up: 24 ms of CPU a new database against
// 9). The transaction is whole or absent: a start killed during it leaves an empty
// database, which the next one migrates. Migrations newer than the snapshot apply after
// it as goose's version rows say.
//
//go:embed schema.sql
var schema string

// beforeSnapshotCommit, set by tests, runs before the snapshot's transaction commits.
var beforeSnapshotCommit func()

// schemaVersion is the last migration schema holds, from its first line.
func schemaVersion() (int64, error) {
	first, _, _ := strings.Cut(schema, "\n")
	v, ok := strings.CutPrefix(first, "-- version ")
	if !ok {
		return 0, fmt.Errorf("schema.sql: first line %q, want -- version N", first)
	}
	return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
}

// applySnapshot creates the schema in w's empty database, in one transaction, and logs
// which migrations it stands for as goose's migrations would have been.
func applySnapshot(ctx context.Context, w *sql.DB, mo sqlstore.MigrateOptions) error {
	version, err := schemaVersion()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	// A file created by Open is empty, but another process may have opened and migrated
	// it since: then the migrations decide, as for any database.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil || n > 0 {
		_ = tx.Rollback()
		return nil
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("sqlite: migrate: schema snapshot: %w", err)
	}
	if beforeSnapshotCommit != nil {
		beforeSnapshotCommit()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: schema snapshot: %w", err)
	}
	if mo.Log != nil {
		mo.Log.InfoContext(ctx, "migrated the database's schema", "from", 0, "to", version, "migrations", strings.Join(snapshotNames(version), ", "))
	}
	return nil
}

// snapshotNames are the names of the migrations up to version, as goose's log gives them.
func snapshotNames(version int64) []string {
	entries, _ := fs.ReadDir(migrations, "migrations")
	var names []string
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		num, _, _ := strings.Cut(name, "_")
		if v, err := strconv.ParseInt(num, 10, 64); err == nil && v <= version {
			names = append(names, name)
		}
	}
	return names
}
