package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestRawStatementsReset: the statements the group writer keeps prepared on its
// connection are reset after each run, an Exec, a QueryRow, or one that failed, so that
// none holds a read transaction open between batches: a TRUNCATE checkpoint on another
// connection is not blocked, and the log empties.
func TestRawStatementsReset(t *testing.T) {
	t.Run("writer", func(t *testing.T) { reviewStatementsReset(t, false) })
	// The check sees a read transaction held: a statement stepped and not reset.
	t.Run("sanity", func(t *testing.T) { reviewStatementsReset(t, true) })
}

func reviewStatementsReset(t *testing.T, sanity bool) {
	dsn := fileDSN(t)
	s := open(t, dsn)
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	for c := int64(1); c <= 3; c++ {
		if err := s.Update(ctx, validateUnit(ctx, "f1", c, at, "h"+string(rune('0'+c)))); err != nil {
			t.Fatal(err)
		}
	}
	// A replay (the compare-and-set's QueryRow explains it), a constraint violation, a
	// QueryRow of no row.
	if err := s.Update(ctx, validation(ctx, "f1", 1, at)); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err == nil {
		t.Fatal("a second user u1 was created")
	}
	if err := s.SetFactorState(ctx, "nope", store.FactorDisabled, at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no such factor: %v", err)
	}
	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "file:")+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A frame in the log that the checkpoint must copy: a read transaction of the
	// writer's, older than it, would keep it from resetting the log.
	if _, err := db.ExecContext(ctx, "CREATE TABLE review_scratch (x)"); err != nil {
		t.Fatal(err)
	}
	if sanity {
		held, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "file:"))
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		rows, err := held.QueryContext(ctx, "SELECT id FROM users")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		rows.Next()
		if _, err := db.ExecContext(ctx, "INSERT INTO review_scratch VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	}
	var busy, log, done int
	checkpoint := func() {
		if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		t.Logf("checkpoint: busy %d, log %d, checkpointed %d", busy, log, done)
	}
	checkpoint()
	if sanity {
		if busy == 0 {
			t.Error("a read transaction held did not block the checkpoint")
		}
		return
	}
	// The store's own checkpointer, woken by the commits above, may be copying the log
	// at this moment (busy too, with busy_timeout 0): it ends, where a read transaction
	// a statement of the writer held would not. Tries until a deadline tell the two
	// apart: twenty short tries (half a second in all) could run out on a loaded machine
	// before a slow checkpointer ended; a read transaction held still fails, at the deadline.
	for deadline := time.Now().Add(10 * time.Second); busy != 0 && time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
		checkpoint()
	}
	if busy != 0 {
		t.Errorf("a TRUNCATE checkpoint was blocked (busy %d): a statement of the writer holds a read transaction", busy)
	}
}
