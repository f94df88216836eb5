package postgres_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// TestRestoreBackupBeforeTables follows the README's restore of a backup
// taken before migration 7, the last that adds tables, over a database a newer emfa
// migrated. pg_restore --clean drops only what the dump holds, and the newer schema's
// tables (self-service's, directory sync's) have foreign keys on users: the restore is
// refused and, in one transaction, changes nothing. The README said the migrations at
// start bring any older backup up to date; it now says to restore such a backup into an
// empty database, which this follows too. A backup from 7 on restores with --clean.
func TestRestoreBackupBeforeTables(t *testing.T) {
	needDumpTools(t)
	sv := testdb.Connect(t)
	ctx := context.Background()
	database := func() string { return scratchDatabase(t, sv) }
	restore := func(dsn, dump string, clean bool) ([]byte, error) {
		args := []string{"--single-transaction", "--no-owner", "-d", dsn, dump}
		if clean {
			args = append([]string{"--clean", "--if-exists"}, args...)
		}
		return exec.Command("pg_restore", args...).CombinedOutput()
	}
	opens := func(dsn string, users ...string) {
		t.Helper()
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("the start after the restore: %v", err)
		}
		defer s.Close()
		for _, u := range users {
			if _, err := s.GetUser(ctx, u); err != nil {
				t.Errorf("user %s: %v", u, err)
			}
		}
	}
	for _, before := range []int64{3, 6, 7} {
		dsn := database()
		dump := dumpAt(t, dsn, before)
		s, err := postgres.Open(ctx, dsn) // the upgrade
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, store.User{ID: "u2", Name: "bob"}); err != nil {
			t.Fatal(err)
		}
		s.Close()

		out, err := restore(dsn, dump, true)
		if before >= 7 {
			if err != nil {
				t.Fatalf("pg_restore --clean of a backup at %d: %v\n%s", before, err, out)
			}
			opens(dsn, "alice")
			continue
		}
		if err == nil || !strings.Contains(string(out), "depend on it") {
			t.Fatalf("pg_restore --clean of a backup at %d over the newer schema: %v\n%s", before, err, out)
		}
		opens(dsn, "alice", "bob") // refused whole: the database as it was
		empty := database()
		if out, err := restore(empty, dump, false); err != nil {
			t.Fatalf("pg_restore of a backup at %d into an empty database: %v\n%s", before, err, out)
		}
		opens(empty, "alice")
	}
}
