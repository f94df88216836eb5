package sqlite

import (
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
	"github.com/emfa/emfa/store/storetest"
)

// Migration 8 moves a factor's last use from an audit index to the factor's row: a
// database written before it keeps every factor's last use.
func TestMigrationKeepsLastUse(t *testing.T) {
	db, path := atVersion(t, 7)
	for _, q := range []string{
		`INSERT INTO users (id, name, created_at) VALUES ('u1', 'alice', 0)`,
		`INSERT INTO factors (id, user_id, type, label, state, key_id, counter, created_at, updated_at) VALUES
			('f1', 'u1', 'totp', '', 'active', '', 0, 0, 0), ('f2', 'u1', 'totp', '', 'active', '', 0, 0, 0),
			('f3', 'u1', 'totp', '', 'active', '', 0, 0, 0)`,
		`INSERT INTO audit (time, request_id, provider, username, capability, factor_id, resource, outcome, reason) VALUES
			(1000, '', '', 'alice', '', 'f1', 'validate', 'SUCCESS', ''),
			(3000, '', '', 'alice', '', 'f1', 'result', 'SUCCESS', ''),
			(5000, '', '', 'alice', '', 'f1', 'validate', 'FAILED', ''),
			(2000, '', '', 'alice', '', 'f2', 'validate', 'SUCCESS', ''),
			(9000, '', '', 'alice', '', 'f3', 'initiate', 'SUCCESS', '')`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.LastUsed(t.Context(), []string{"f1", "f2", "f3"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"f1": time.UnixMilli(3000), "f2": time.UnixMilli(2000)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("last use after migrating (-want +got):\n%s", d)
	}
}

// Migration 9 matches user names regardless of ASCII case. A database with two users
// whose names differ only by case stops it, says which, and is left as it was, so the
// emfa that wrote it can delete one; then it migrates, and either case finds the user.
func TestMigrationRefusesNamesDifferingByCase(t *testing.T) {
	db, path := atVersion(t, 8)
	if _, err := db.ExecContext(t.Context(), `INSERT INTO users (id, name, created_at) VALUES
		('u1', 'Dana@Example.com', 0), ('u2', 'dana@example.com', 0), ('u3', 'eve', 0), ('u4', 'EVE', 0), ('u5', 'kate', 0)`); err != nil {
		t.Fatal(err)
	}

	_, err := Open(t.Context(), path)
	if err == nil {
		t.Fatal("Open migrated a database with names differing only by case")
	}
	for _, want := range []string{`users "Dana@Example.com" and "dana@example.com"; users "EVE" and "eve" differ only by letter case`, "The upgrade stopped before it changed them", "emfa users delete NAME"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open: %v\nwant it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "kate") {
		t.Errorf("Open: %v\nnames a user that collides with none", err)
	}
	var version int64
	if err := db.QueryRowContext(t.Context(), `SELECT MAX(version_id) FROM goose_db_version`).Scan(&version); err != nil || version != 8 {
		t.Fatalf("version after the refused migration: %d, %v; want 8", version, err)
	}

	if _, err := db.ExecContext(t.Context(), `DELETE FROM users WHERE id IN ('u2', 'u4')`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open after deleting one of each: %v", err)
	}
	defer s.Close()
	if u, err := s.GetUser(t.Context(), "DANA@example.COM"); err != nil || u.ID != "u1" {
		t.Errorf("GetUser after the migration: %+v, %v; want u1", u, err)
	}
	// A connection opened after the migration: one opened before may plan on the schema
	// it read first.
	fresh, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for q, index := range map[string]string{
		`SELECT id FROM users WHERE lower(name) = 'eve'`:                                          "users_name_folded",
		`SELECT id FROM users WHERE lower(name) > 'd' ORDER BY lower(name) LIMIT 10`:              "users_name_folded", // a listing's page
		`SELECT id FROM audit WHERE lower(username) = 'eve' ORDER BY time DESC, id DESC LIMIT 10`: "audit_username_time",
	} {
		var plan string
		if err := fresh.QueryRowContext(t.Context(), `EXPLAIN QUERY PLAN `+q).Scan(new(int), new(int), new(int), &plan); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, index) {
			t.Errorf("%s: does not use %s: %s", q, index, plan)
		}
	}
}

// Migration 11 moves directory sync's marks and unfinished events to the folded user key:
// a name's latest mark among its spellings, group keys and finished events as they were.
func TestMigrationFoldsSyncKeys(t *testing.T) {
	db, _ := atVersion(t, 10)
	storetest.MigrationFoldsSyncKeys(t, db, func() error {
		return sqlstore.MigrateTo(t.Context(), db, goose.DialectSQLite3, migrations, 11)
	})
}

// Migration 13 gives groups a revision, 0 for those written before it.
func TestMigrationGroupRevision(t *testing.T) {
	db, _ := atVersion(t, 13)
	storetest.MigrationGroupRevision(t, db, func() error {
		return sqlstore.MigrateTo(t.Context(), db, goose.DialectSQLite3, migrations, 14)
	})
}

// Users whose profile rows are at revision 0, from before migration 12 or written by an
// emfa from before it during a rolling upgrade, are changed like any other.
func TestProfilesAtRevisionZero(t *testing.T) {
	db, path := atVersion(t, 11)
	storetest.ProfilesAtRevisionZero(t, db, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// The changes an emfa from before migration 12 makes during a rolling upgrade move the
// user's revision (migration 17's triggers), and a newer emfa's move it once.
func TestOldReplicaEdits(t *testing.T) {
	db, path := atVersion(t, 11)
	storetest.OldReplicaEdits(t, db, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Opening says which migrations it applied, and refuses a schema a newer emfa migrated
// unless allowed.
func TestUpgrades(t *testing.T) {
	db, path := atVersion(t, 11)
	storetest.Upgrades(t, db, func(t *testing.T, allowNewer bool, log *slog.Logger) (io.Closer, error) {
		s, err := Open(t.Context(), path, AllowNewerSchema(allowNewer), Log(log))
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}

// atVersion is a new SQLite database migrated to version, and its path.
func atVersion(t *testing.T, version int64) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "emfa.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.MigrateTo(t.Context(), db, goose.DialectSQLite3, migrations, version); err != nil {
		t.Fatal(err)
	}
	return db, path
}
