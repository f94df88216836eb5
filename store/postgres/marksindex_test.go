package postgres_test

import (
	"testing"
	"time"

	"github.com/emfa/emfa/store/postgres"
)

// TestMigrationMarksTime: migration 28 indexes the ordering marks by their time
// (the purge's), keeping every mark, and its down drops the index alone, as on SQLite
// (TestMigrationMarksTime there).
func TestMigrationMarksTime(t *testing.T) {
	db, dsn := schemaAt(t, 27)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO sync_marks (key, event_time) VALUES ('user:a', 1000), ('vendor.busy:duo', 2000)`); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	index := func() int {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'sync_marks_event_time'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if index() != 1 {
		t.Fatal("no index sync_marks_event_time after migrating")
	}
	for key, want := range map[string]int64{"user:a": 1000, "vendor.busy:duo": 2000} {
		if got, err := s.KeyMark(ctx, key); err != nil || !got.Equal(time.UnixMilli(want)) {
			t.Errorf("mark %s after migrating = %v, %v; want %v", key, got, err, time.UnixMilli(want))
		}
	}
	downTo(t, db, 27)
	if index() != 0 {
		t.Error("sync_marks_event_time left after migration 28's down")
	}
}
