package sqlite

import (
	"io/fs"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
)

// TestMigrationMarksTime: migration 23 indexes the ordering marks by their time
// (the purge's), keeping every mark, and its down drops the index alone.
func TestMigrationMarksTime(t *testing.T) {
	db, path := atVersion(t, 22)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO sync_marks (key, event_time) VALUES ('user:a', 1000), ('vendor.busy:duo', 2000)`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	index := func() int {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'sync_marks_event_time'`).Scan(&n); err != nil {
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
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 22); err != nil {
		t.Fatal(err)
	}
	if index() != 0 {
		t.Error("sync_marks_event_time left after migration 23's down")
	}
}
