package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `emfa sync pending` and `emfa sync dead-letters list` printed an event's last error
// (a vendor's answer, cut at 500 bytes) and its key as they were: an escape sequence in
// a vendor's error body reached the operator's terminal raw (ESC[2J cleared it, a carriage
// return printed a line over the row), as the import report did before it was escaped.
// Now the table shows them as the audit trail does, control characters escaped; --json
// is unchanged (JSON escapes them).
func TestSyncTablesEscape(t *testing.T) {
	cfg := writeConfig(t, "")
	migratedStore(t, cfg)
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	queued := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	for i, state := range []string{"pending", "dead"} {
		if _, err := db.Exec(`INSERT INTO sync_events (seq, source, event_id, type, order_key, event_time, state, attempts, next_at, note, body, created_at, updated_at)
			VALUES (?, 'okta', ?, 'user.update', ?, 0, ?, 3, 0, ?, '{}', ?, ?)`,
			i+1, "ev\x1b[2J"+state, "user:ev\x1b]0;pwned\x07il", state, "okta: 400: \x1b[2J\r+ all fine\x9b31m", queued, queued); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO sync_pauses (source, reason, created_at) VALUES ('okta', ?, 0)`, "100 deleted\x1b[2J"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, args := range [][]string{{"sync", "pending"}, {"sync", "dead-letters", "list"}, {"sync", "status"}} {
		out := mustEmfa(t, append(args, "--config", cfg)...)
		if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r >= 0x7f && r < 0xa0 }); i >= 0 {
			t.Errorf("emfa %s: a raw control character %q:\n%q", strings.Join(args, " "), out[i], out)
		}
		if args[1] != "status" && !strings.Contains(out, `okta: 400: \x1b[2J\x0d+ all fine`) {
			t.Errorf("emfa %s: the error is not shown escaped:\n%q", strings.Join(args, " "), out)
		}
	}
	if out := mustEmfa(t, "sync", "dead-letters", "drop", "2", "--config", cfg); strings.ContainsRune(out, 0x1b) {
		t.Errorf("drop: %q", out)
	}
}
