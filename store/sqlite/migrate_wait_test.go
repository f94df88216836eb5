package sqlite

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestOpenWaitsForAnotherProcesssMigration: a process that opens a database while
// another migrates it (a command beside a restarted server, after an upgrade) waits for
// that migration, however long it takes, rather than failing "database is locked" once
// busy_timeout (5 s) has passed: migration 10 rebuilds an index over the whole audit
// trail, longer than that on a large one, and the loser, were it `emfa serve`, did not
// start. Here the other process's write transaction outlasts busy_timeout, made short.
func TestOpenWaitsForAnotherProcesssMigration(t *testing.T) {
	old := busyTimeout
	busyTimeout = 50 * time.Millisecond
	t.Cleanup(func() { busyTimeout = old })

	path, other := writingElsewhere(t)
	released := make(chan error, 1)
	go func() {
		time.Sleep(10 * busyTimeout) // the other process's long migration
		_, err := other.ExecContext(t.Context(), "COMMIT")
		released <- err
	}()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open beside another process's migration: %v", err)
	}
	defer s.Close()
	var ms int64 // and serves with busy_timeout as before
	if err := s.w.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&ms); err != nil || ms != busyTimeout.Milliseconds() {
		t.Errorf("busy_timeout %d ms after the migration (%v), want %d", ms, err, busyTimeout.Milliseconds())
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
}

// TestOpenWaitEndsWithItsContext: the wait on another process's migration ends with
// Open's context (a start given up), not after the migration's long busy timeout.
func TestOpenWaitEndsWithItsContext(t *testing.T) {
	path, other := writingElsewhere(t)
	defer other.ExecContext(t.Context(), "ROLLBACK")
	ctx, cancel := context.WithCancel(t.Context())
	opened := make(chan error, 1)
	go func() {
		s, err := Open(ctx, path)
		if err == nil {
			s.Close()
		}
		opened <- err
	}()
	time.Sleep(100 * time.Millisecond) // Open is waiting on the lock
	cancel()
	select {
	case err := <-opened:
		if err == nil {
			t.Fatal("Open succeeded while another process held the lock")
		}
	case <-time.After(time.Minute):
		t.Fatal("Open still waits a minute after its context ended")
	}
}

// writingElsewhere is a database file at version 8, in WAL mode, and a connection of
// "another process" holding its write lock (BEGIN IMMEDIATE), closed when the test ends.
func writingElsewhere(t *testing.T) (string, *sql.Conn) {
	t.Helper()
	db, path := atVersion(t, 8)
	if _, err := db.ExecContext(t.Context(), "PRAGMA journal_mode = WAL"); err != nil {
		t.Fatal(err)
	}
	other, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if _, err := other.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return path, other
}

// TestOpenSwitchesToWALBesideAReader: a file not yet in WAL mode (an older emfa's, or
// one a command opened first) is switched by Open while another process reads it: the
// switch needs the file to itself and SQLite can answer it SQLITE_BUSY past the busy
// handler's wait, or without one, so several processes starting together on such a file
// failed "set journal_mode: database is locked" (CI, TestConcurrentUpgrade). Open tries
// the switch again until the reader is done.
func TestOpenSwitchesToWALBesideAReader(t *testing.T) {
	old := busyTimeout
	busyTimeout = 50 * time.Millisecond
	t.Cleanup(func() { busyTimeout = old })

	db, path := atVersion(t, 8) // rollback journal, as goose left it
	reader, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(t.Context(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(t.Context(), "SELECT count(*) FROM users").Scan(&n); err != nil { // its shared lock
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		time.Sleep(10 * busyTimeout) // the other process's read
		_, err := reader.ExecContext(t.Context(), "COMMIT")
		done <- err
	}()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open beside another process's read: %v", err)
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
