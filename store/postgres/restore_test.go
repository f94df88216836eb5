package postgres_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestRestoreOlderBackup follows the README's restore ("Backing up and
// restoring"): a pg_dump taken before an upgrade, restored with pg_restore --clean
// --if-exists --single-transaction --no-owner into the database the upgrade migrated. The
// restore drops and recreates what the dump holds, the tables; the functions the
// migrations since created for their triggers (17, 21, 24) are no table's and stay. The
// next start failed on the first of them ("function user_profiles_revision already
// exists", SQLSTATE 42723) and every start after it, where the README says the migrations
// bring an older backup's schema up to date. It runs in a database of its own: a
// restore with --clean drops what the dump holds, in whichever schema.
func TestRestoreOlderBackup(t *testing.T) {
	needDumpTools(t)
	sv := testdb.Connect(t)
	ctx := context.Background()
	dsn := scratchDatabase(t, sv)
	// The database as an emfa from before migration 17 left it, with a user.
	dump := dumpAt(t, dsn, 16)
	// The upgrade, and a user created since.
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "u2", Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Every replica stopped, the backup restored as the README says.
	if out, err := exec.Command("pg_restore", "--clean", "--if-exists", "--single-transaction", "--no-owner",
		"-d", dsn, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	s, err = postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("the start after restoring a backup from before migration 17: %v", err)
	}
	defer s.Close()
	if u, err := s.GetUser(ctx, "alice"); err != nil || u.ID != "u1" {
		t.Errorf("alice after the restore: %+v, %v", u, err)
	}
	if u, err := s.GetUser(ctx, "bob"); err == nil {
		t.Errorf("bob, created after the backup, is still there after its restore: %+v", u)
	}
}

// needDumpTools skips a test that runs PostgreSQL's pg_dump and pg_restore where they are
// not installed (they come with the server's client package).
func needDumpTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s: %v", tool, err)
		}
	}
}

// scratchDatabase creates a database of the test's own on sv, dropped when it ends, and
// returns its DSN: a restore with --clean drops what the dump holds, in whichever schema.
func scratchDatabase(t *testing.T, sv *testdb.Server) string {
	t.Helper()
	name := "emfa_t_restore_" + strings.ToLower(rand.Text()[:10])
	if _, err := sv.Admin.Exec(t.Context(), `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := sv.Admin.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return withDatabase(sv.DSN, name)
}

// dumpAt migrates the database dsn names to version, creates user alice (u1) in it, and
// returns the file of its pg_dump -Fc: a backup an emfa of that schema took.
func dumpAt(t *testing.T, dsn string, version int64) string {
	t.Helper()
	db := stdlib.OpenDB(*pgConfig(t, dsn))
	defer db.Close()
	if err := sqlstore.MigrateTo(t.Context(), db, goose.DialectPostgres, postgres.Migrations, version); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO users (id, name, created_at) VALUES ('u1', 'alice', 0)`); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "emfa.dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-f", dump, dsn).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	return dump
}

// withDatabase is dsn naming database name instead of its own.
func withDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}
