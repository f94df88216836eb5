package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/store/postgres"
)

// TestReviewQ91MarksIndexLeavesWritesFree: migration 28 builds sync_marks' index on a
// table in use (an upgrade beside the older replicas, which keep writing marks in every
// user change's commit) without holding their writes for the build. An older replica's
// transaction writes a mark and stays open; the migration waits for it, and meanwhile
// another replica's write of a mark is not held behind the migration. Before, the
// migration's CREATE INDEX queued for a SHARE lock on sync_marks, and every write of a
// mark queued behind it: on a large sync_marks, for the whole build.
func TestReviewQ91MarksIndexLeavesWritesFree(t *testing.T) {
	db, dsn := schemaAt(t, 27)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO sync_marks (key, event_time) VALUES ('user:a', 1000)`); err != nil {
		t.Fatal(err)
	}
	conn := func() (*pgx.Conn, int) {
		c, err := pgx.ConnectConfig(ctx, pgConfig(t, dsn))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		var pid int
		if err := c.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return c, pid
	}
	old, oldPID := conn()
	tx, err := old.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `INSERT INTO sync_marks (key, event_time) VALUES ('user:b', 2000)`); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() {
		s, err := postgres.Open(ctx, dsn)
		if err == nil {
			s.Close()
		}
		opened <- err
	}()
	// blockedBy reports whether the session pid waits for a lock that holder holds.
	blockedBy := func(pid, holder int) bool {
		var blocked bool
		if err := db.QueryRowContext(ctx, `SELECT $2::int = ANY(pg_blocking_pids($1))`, pid, holder).Scan(&blocked); err != nil {
			t.Fatal(err)
		}
		return blocked
	}
	var migrator int
	for deadline := time.Now().Add(30 * time.Second); migrator == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the migration never waited for the open transaction that wrote a mark")
		}
		select {
		case err := <-opened:
			t.Fatalf("migrated beside an open transaction that wrote a mark: %v", err)
		default:
		}
		if err := db.QueryRowContext(ctx, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE query LIKE '%sync_marks_event_time%' AND $1::int = ANY(pg_blocking_pids(pid))`, oldPID).Scan(&migrator); err != nil {
			t.Fatal(err)
		}
	}
	// Another replica writes a mark while the migration waits.
	other, otherPID := conn()
	wrote := make(chan error, 1)
	go func() {
		_, err := other.Exec(ctx, `INSERT INTO sync_marks (key, event_time) VALUES ('user:c', 3000)`)
		wrote <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-wrote:
			if err != nil {
				t.Fatal(err)
			}
		default:
			if blockedBy(otherPID, migrator) {
				t.Fatal("a write of a mark waits for the migration's index build")
			}
			if time.Now().After(deadline) {
				t.Fatal("the write of a mark neither ended nor waited for the migration")
			}
			continue
		}
		break
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	var valid bool
	if err := db.QueryRowContext(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'sync_marks_event_time' AND c.relnamespace = current_schema()::regnamespace`).Scan(&valid); err != nil || !valid {
		t.Fatalf("sync_marks_event_time valid: %v, %v", valid, err)
	}
}

// TestReviewQ91MarksIndexAfterFailedBuild: a build of the index that failed part-way (a
// start killed during it, a statement_timeout) leaves an INVALID index of the name,
// which the next start's migration drops and builds again, rather than take it for built:
// PostgreSQL keeps such an index up on every write and never reads it, and the purge
// would read every mark again.
func TestReviewQ91MarksIndexAfterFailedBuild(t *testing.T) {
	db, dsn := schemaAt(t, 27)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO sync_marks (key, event_time) VALUES ('user:a', 1000), ('user:b', 1000)`); err != nil {
		t.Fatal(err)
	}
	// A concurrent build that fails (here on a duplicate) leaves its index, INVALID.
	if _, err := db.ExecContext(ctx, `CREATE UNIQUE INDEX CONCURRENTLY sync_marks_event_time ON sync_marks (event_time)`); err == nil {
		t.Fatal("the unique build over a duplicate did not fail")
	}
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var valid, unique bool
	if err := db.QueryRowContext(ctx, `SELECT i.indisvalid, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'sync_marks_event_time' AND c.relnamespace = current_schema()::regnamespace`).Scan(&valid, &unique); err != nil {
		t.Fatal(err)
	}
	if !valid || unique {
		t.Errorf("sync_marks_event_time after the migration: valid %v, unique %v; want the migration's, valid and not unique", valid, unique)
	}
}
