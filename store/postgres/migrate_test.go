package postgres_test

import (
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
	"github.com/emfa/emfa/store/storetest"
)

// Migration 9 matches user names regardless of ASCII case, as on SQLite
// (TestMigrationRefusesNamesDifferingByCase there): a schema with two users whose names
// differ only by case stops it, says which, and is left as it was; then it migrates, and
// lookups by the folded name use the index, which folds ASCII only under COLLATE "C".
func TestMigrationRefusesNamesDifferingByCase(t *testing.T) {
	db, dsn := schemaAt(t, 8)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, name, created_at) VALUES
		('u1', 'Dana@Example.com', 0), ('u2', 'dana@example.com', 0), ('u3', 'Àla', 0), ('u4', 'àla', 0)`); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(ctx, dsn)
	if err == nil {
		t.Fatal("Open migrated a schema with names differing only by case")
	}
	if want := `users "Dana@Example.com" and "dana@example.com" differ only by letter case`; !strings.Contains(err.Error(), want) {
		t.Errorf("Open: %v\nwant it to say %q", err, want)
	}
	if strings.Contains(err.Error(), "Àla") || strings.Contains(err.Error(), "àla") {
		t.Errorf("Open: %v\nnames users that differ by more than ASCII case", err)
	}
	var version int64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version`).Scan(&version); err != nil || version != 8 {
		t.Fatalf("version after the refused migration: %d, %v; want 8", version, err)
	}

	if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE id = 'u2'`); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open after deleting one: %v", err)
	}
	defer s.Close()
	if u, err := s.GetUser(ctx, "DANA@example.COM"); err != nil || u.ID != "u1" {
		t.Errorf("GetUser after the migration: %+v, %v; want u1", u, err)
	}
	tx := noSeqScan(t, db)
	for q, index := range map[string]string{
		`SELECT id FROM users WHERE lower(name) = $1`:                                          "users_name_folded",
		`SELECT id FROM users WHERE lower(name) > $1 ORDER BY lower(name) LIMIT 10`:            "users_name_folded", // a listing's page
		`SELECT id FROM audit WHERE lower(username) = $1 ORDER BY time DESC, id DESC LIMIT 10`: "audit_username_time",
	} {
		if plan := explain(t, tx, q, "eve"); !strings.Contains(plan, index) {
			t.Errorf("%s: does not use %s: %s", q, index, plan)
		}
	}
}

// noSeqScan is a transaction on db, rolled back at the end of t, in which the planner
// takes an index wherever one serves: what a large table's plan would be.
func noSeqScan(t *testing.T, db *sql.DB) *sql.Tx {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.ExecContext(t.Context(), `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	return tx
}

// explain is the plan of q with args in tx, a line each.
func explain(t *testing.T, tx *sql.Tx, q string, args ...any) string {
	t.Helper()
	rows, err := tx.QueryContext(t.Context(), `EXPLAIN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan += line + "\n"
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// Migration 11 folds directory sync's user keys, as on SQLite (TestMigrationFoldsSyncKeys
// there), and only ASCII letters: "user:Éva" stays as it is.
func TestMigrationFoldsSyncKeys(t *testing.T) {
	db, _ := schemaAt(t, 10)
	storetest.MigrationFoldsSyncKeys(t, db, func() error {
		return sqlstore.MigrateTo(t.Context(), db, goose.DialectPostgres, postgres.Migrations, 11)
	})
}

// Migration 13 gives groups a revision, as on SQLite (TestMigrationGroupRevision there).
func TestMigrationGroupRevision(t *testing.T) {
	db, _ := schemaAt(t, 13)
	storetest.MigrationGroupRevision(t, db, func() error {
		return sqlstore.MigrateTo(t.Context(), db, goose.DialectPostgres, postgres.Migrations, 14)
	})
}

// Users whose profile rows are at revision 0 are changed like any other, as on SQLite
// (TestProfilesAtRevisionZero there); here the batches go pipelined too.
func TestProfilesAtRevisionZero(t *testing.T) {
	db, dsn := schemaAt(t, 11)
	storetest.ProfilesAtRevisionZero(t, db, func(t *testing.T) store.Store {
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The changes of an emfa from before migration 12 move the user's revision, as on
// SQLite (TestOldReplicaEdits there).
func TestOldReplicaEdits(t *testing.T) {
	db, dsn := schemaAt(t, 11)
	storetest.OldReplicaEdits(t, db, func(t *testing.T) store.Store {
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Opening says which migrations it applied, and refuses a schema a newer emfa migrated
// unless allowed, as on SQLite (TestUpgrades there), in the look without the lock too.
func TestUpgrades(t *testing.T) {
	db, dsn := schemaAt(t, 11)
	storetest.Upgrades(t, db, func(t *testing.T, allowNewer bool, log *slog.Logger) (io.Closer, error) {
		s, err := postgres.Open(t.Context(), dsn, postgres.AllowNewerSchema(allowNewer), postgres.Log(log))
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}

// schemaAt is a new schema migrated to version, and its DSN.
func schemaAt(t *testing.T, version int64) (*sql.DB, string) {
	t.Helper()
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.MigrateTo(t.Context(), db, goose.DialectPostgres, postgres.Migrations, version); err != nil {
		t.Fatal(err)
	}
	return db, dsn
}

// downTo migrates db's schema down to version, with the migrations' own down sections.
func downTo(t *testing.T, db *sql.DB, version int64) {
	t.Helper()
	dir, err := fs.Sub(postgres.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
}

// Migration 21 gives each factor its user's disabled flag, and the database keeps it:
// set for the factors of users disabled before the migration, copied on a disable or an
// enable however made (an emfa from before the migration's too), and taken by a factor
// inserted for a disabled user. The deciding statements test it on the factor's row
// (sqlstore's activeFactor).
func TestMigrationFactorUserDisabled(t *testing.T) {
	db, dsn := schemaAt(t, 20)
	ctx := t.Context()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	factor := func(id, user string) {
		t.Helper()
		exec(`INSERT INTO factors (id, user_id, type, label, state, key_id, counter, created_at, updated_at)
			VALUES ($1, $2, 'totp', '', 'active', '', 0, 0, 0)`, id, user)
	}
	exec(`INSERT INTO users (id, name, disabled, created_at) VALUES ('u1', 'ann', true, 0), ('u2', 'bob', false, 0)`)
	factor("f1", "u1")
	factor("f2", "u2")
	if err := sqlstore.MigrateTo(ctx, db, goose.DialectPostgres, postgres.Migrations, 21); err != nil {
		t.Fatal(err)
	}
	want := func(when string, flags map[string]bool) {
		t.Helper()
		for id, w := range flags {
			var got bool
			if err := db.QueryRowContext(ctx, `SELECT user_disabled FROM factors WHERE id = $1`, id).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != w {
				t.Errorf("%s: factor %s user_disabled %v, want %v", when, id, got, w)
			}
		}
	}
	want("after the migration", map[string]bool{"f1": true, "f2": false})

	exec(`UPDATE users SET disabled = NOT disabled`)
	want("after ann's enable and bob's disable", map[string]bool{"f1": false, "f2": true})
	factor("f3", "u2")
	want("a factor inserted for a disabled user", map[string]bool{"f3": true})
	exec(`UPDATE factors SET user_id = 'u1' WHERE id = 'f3'`)
	want("a factor moved to an enabled user", map[string]bool{"f3": false})

	// Through the store: a disabled user's right code changes nothing.
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetUserDisabled(ctx, "ann", true); err != nil {
		t.Fatal(err)
	}
	want("after SetUserDisabled", map[string]bool{"f1": true, "f3": true})
	err = s.Update(ctx, func(w store.Writer) error { return w.AdvanceCounter(ctx, "f1", 5, time.Unix(100, 0)) })
	if !errors.Is(err, store.ErrInactive) {
		t.Errorf("AdvanceCounter of a disabled user's factor: %v, want ErrInactive", err)
	}
}
