package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/store/sqlstore"
)

// dumpSchema is db's schema as schema.sql holds it: its last migration, its objects'
// statements in the order SQLite made them, goose's version rows.
func dumpSchema(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	var latest int64
	if err := db.QueryRow(`SELECT MAX(version_id) FROM goose_db_version`).Scan(&latest); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "-- version %d\n-- Written from the migrations by the schema snapshot test (snapshot.go): do not edit.\n", latest)
	rows, err := db.Query(`SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			t.Fatal(err)
		}
		b.WriteString(q + ";\n")
	}
	rows.Close()
	rows, err = db.Query(`SELECT version_id, is_applied FROM goose_db_version ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v, a int64
		if err := rows.Scan(&v, &a); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (%d, %d);\n", v, a)
	}
	rows.Close()
	return b.String()
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The snapshot a new database gets is what goose's migrations build, statement for
// statement, version rows included.
func TestSchemaSnapshot(t *testing.T) {
	ctx := context.Background()
	mdb := rawDB(t, filepath.Join(t.TempDir(), "goose.db"))
	if err := sqlstore.Migrate(ctx, mdb, goose.DialectSQLite3, migrations); err != nil {
		t.Fatal(err)
	}
	want := dumpSchema(t, mdb)
	if os.Getenv("EMFA_WRITE_SCHEMA") == "1" {
		if err := os.WriteFile("schema.sql", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if schema != want {
		t.Fatalf("schema.sql is not what the migrations build: rewrite it with EMFA_WRITE_SCHEMA=1 go test ./store/sqlite -run TestSchemaSnapshot\ngot:\n%s\nwant:\n%s", schema, want)
	}
	path := filepath.Join(t.TempDir(), "emfa.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Created() {
		t.Error("Open of a new file: Created() = false")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dumpSchema(t, rawDB(t, path)); got != want {
		t.Errorf("a new database's schema differs from the migrations':\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// A first start killed before the snapshot commits leaves a database the next start
// opens and migrates whole.
func TestSnapshotKilled(t *testing.T) {
	if path := os.Getenv("EMFA_REVIEW_SNAPSHOT_KILL"); path != "" {
		beforeSnapshotCommit = func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) }
		_, _ = Open(context.Background(), path)
		t.Fatal("Open returned: the process was to be killed before the snapshot committed")
	}
	path := filepath.Join(t.TempDir(), "emfa.db")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSnapshotKilled$")
	cmd.Env = append(os.Environ(), "EMFA_REVIEW_SNAPSHOT_KILL="+path)
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child: %v, want killed:\n%s", err, out)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Logf("no -wal left: %v", err)
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after a first start killed mid-snapshot: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mdb := rawDB(t, filepath.Join(t.TempDir(), "goose.db"))
	if err := sqlstore.Migrate(ctx, mdb, goose.DialectSQLite3, migrations); err != nil {
		t.Fatal(err)
	}
	if got, want := dumpSchema(t, rawDB(t, path)), dumpSchema(t, mdb); got != want {
		t.Errorf("schema after the killed start and a second one:\ngot:\n%s\nwant:\n%s", got, want)
	}
}
