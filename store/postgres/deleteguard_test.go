package postgres_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestAllowApplyingWaits: the deletion guard's count (AllowApplying) waits for
// another replica's count under way on the same source, and counts the deletion that one
// allowed: counted side by side, each saw the deletions of before, under the limit, and
// both were allowed.
func TestAllowApplyingWaits(t *testing.T) {
	db, dsn := schemaAt(t, 28)
	ctx := t.Context()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	seqs, err := s.EnqueueLeased(ctx, []store.QueuedEvent{
		{Source: "okta", EventID: "d1", Key: "user:a", Type: "user.delete", Time: now, Body: []byte(`{}`)},
		{Source: "okta", EventID: "d2", Key: "user:b", Type: "user.delete", Time: now, Body: []byte(`{}`)},
	}, "w", now.Add(time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	// The other replica, allowing d1, its commit not yet made.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`INSERT INTO sync_marks (key, event_time) VALUES ('deletion-guard#okta', 0) ON CONFLICT (key) DO UPDATE SET event_time = 0`,
		`UPDATE sync_events SET note = '` + sqlstore.AllowedNote + `', updated_at = ` + strconv.FormatInt(now.UnixMilli(), 10) + ` WHERE event_id = 'd1'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	type res struct {
		n   int
		ok  bool
		err error
	}
	done := make(chan res, 1)
	go func() {
		n, ok, err := s.AllowApplying(ctx, seqs[1], "w", "okta", "user.delete", now.Add(-time.Hour), 0, 1, now)
		done <- res{n, ok, err}
	}()
	// Until it waits for the lock, or ends without waiting.
	for waiting := false; !waiting; {
		select {
		case r := <-done:
			t.Fatalf("AllowApplying did not wait for the other count under way: %+v", r)
		default:
		}
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO sync_marks%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.ok || r.n != 1 {
		t.Errorf("AllowApplying beside a deletion allowed at the limit = %+v; want 1 counted, not allowed", r)
	}
}
