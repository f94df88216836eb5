package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// syncDB opens cfg's SQLite store (migrated first by a command) and runs stmts on it: the
// queue's rows as its worker writes them.
func syncDB(t *testing.T, cfg string, stmts ...string) {
	t.Helper()
	migratedStore(t, cfg) // a command that only reads makes none
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// queueRow is an INSERT of an event of the queue.
func queueRow(seq int, source, typ, key, state string, attempts int, nextAt time.Time, note string, created time.Time) string {
	return fmt.Sprintf(`INSERT INTO sync_events (seq, source, event_id, type, order_key, event_time, state, attempts, next_at, note, body, created_at, updated_at)
		VALUES (%d, %q, 'e%d', %q, %q, 0, %q, %d, %d, %q, '{}', %d, %d)`, seq, source, seq, typ, key, state, attempts, nextAt.UnixMilli(), note, created.UnixMilli(), created.UnixMilli())
}

// TestSyncPendingList: `emfa sync pending` lists the waiting events oldest first, by
// source on request, with their attempts, next attempt, last error and what holds them
// (a paused source's deletion, a backoff, or their turn); --json gives the same, one event
// a line; dead-letters list takes --source and --json too.
func TestSyncPendingList(t *testing.T) {
	cfg := writeConfig(t, "")
	future := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	queued := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	syncDB(t, cfg,
		`INSERT INTO sync_pauses (source, reason, created_at) VALUES ('okta', '100 users deleted in the last hour', 0)`,
		queueRow(1, "okta", "user.delete", "user:bob", "pending", 0, time.Time{}, "", queued),
		queueRow(2, "okta", "user.update", "user:carol", "pending", 2, future, "vendor down", queued.Add(time.Second)),
		queueRow(3, "scim", "user.create", "user:dave", "pending", 0, time.Time{}, "", queued.Add(2*time.Second)),
		queueRow(4, "propagate:duo", "user.create", "propagate:duo/user:erin", "dead", 10, time.Time{}, "propagate: 503", queued),
		queueRow(5, "okta", "user.create", "user:fay", "done", 1, time.Time{}, "", queued),
	)
	out := mustEmfa(t, "sync", "pending", "--config", cfg)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ") || !strings.Contains(lines[0], "WAITING") {
		t.Fatalf("pending:\n%s", out)
	}
	for i, want := range [][]string{
		{"1", "okta", "user.delete", "user:bob", "2026-05-01T09:00:00Z", "0", "paused", "-"},
		{"2", "okta", "user.update", "user:carol", "2", "backoff", future.UTC().Format(time.RFC3339), "vendor down"},
		{"3", "scim", "user:dave", "0", "queued", "-"},
	} {
		fields := strings.Fields(lines[i+1])
		for _, w := range want {
			if !slices.Contains(fields, w) && !strings.HasSuffix(lines[i+1], "  "+w) {
				t.Errorf("pending line %d %q lacks %q", i+1, lines[i+1], w)
			}
		}
	}
	if out := mustEmfa(t, "sync", "pending", "--source", "scim", "--config", cfg); strings.Count(out, "\n") != 2 || !strings.Contains(out, "user:dave") {
		t.Errorf("pending of scim:\n%s", out)
	}
	var views []map[string]any
	for line := range strings.Lines(mustEmfa(t, "sync", "pending", "--source", "okta", "--json", "--config", cfg)) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		views = append(views, v)
	}
	if len(views) != 2 || views[0]["seq"] != 1.0 || views[0]["waiting"] != "paused" || views[0]["next_attempt"] != nil ||
		views[1]["waiting"] != "backoff" || views[1]["next_attempt"] != future.UTC().Format(time.RFC3339) || views[1]["attempts"] != 2.0 ||
		views[1]["error"] != "vendor down" || views[1]["queued"] != "2026-05-01T09:00:01Z" || views[1]["source"] != "okta" || views[1]["body"] != nil {
		t.Errorf("pending --json: %v", views)
	}
	out = mustEmfa(t, "sync", "dead-letters", "list", "--json", "--source", "propagate:duo", "--config", cfg)
	var dead map[string]any
	if err := json.Unmarshal([]byte(out), &dead); err != nil || dead["seq"] != 4.0 || dead["error"] != "propagate: 503" || dead["state"] != "dead" {
		t.Errorf("dead-letters list --json: %s, %v", out, err)
	}
	if out := mustEmfa(t, "sync", "dead-letters", "list", "--source", "okta", "--config", cfg); strings.Count(out, "\n") != 1 {
		t.Errorf("okta has no dead letter:\n%s", out)
	}
	if code, _, errOut := emfa(t, "sync", "pending", "--limit", "0", "--config", cfg); code != 2 || !strings.Contains(errOut, "--limit must be positive") {
		t.Errorf("--limit 0: exit %d, %q", code, errOut)
	}
}

// TestSyncDropDeadLetter: an operator gives up a dead letter: it leaves the dead letters,
// is recorded in the audit trail with the actor cli, and cannot be retried; a SEQ that is
// no dead letter (pending, dropped already, none) is refused and records nothing.
func TestSyncDropDeadLetter(t *testing.T) {
	cfg := writeConfig(t, "")
	queued := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	syncDB(t, cfg,
		queueRow(7, "okta", "user.delete", "user:bob", "dead", 10, time.Time{}, "vendor said 500", queued),
		queueRow(8, "okta", "user.create", "user:carol", "pending", 0, time.Time{}, "", queued),
	)
	for _, tc := range []struct {
		seq  string
		code int
		err  string
	}{
		{"8", 1, "no dead letter 8"},
		{"99", 1, "no dead letter 99"},
		{"0", 2, "SEQ must be a dead letter's number"},
		{"seven", 2, "SEQ must be a dead letter's number"},
	} {
		if code, _, errOut := emfa(t, "sync", "dead-letters", "drop", tc.seq, "--config", cfg); code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("drop %s: exit %d, %q; want %d, %q", tc.seq, code, errOut, tc.code, tc.err)
		}
	}
	if code, _, errOut := emfa(t, "sync", "dead-letters", "drop", "--config", cfg); code != 2 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("drop without SEQ: exit %d, %q", code, errOut)
	}
	if out := mustEmfa(t, "sync", "dead-letters", "drop", "7", "--config", cfg); !strings.Contains(out, "dead letter 7 dropped: okta user.delete of user:bob") {
		t.Errorf("drop: %q", out)
	}
	if out := mustEmfa(t, "sync", "dead-letters", "list", "--config", cfg); strings.Count(out, "\n") != 1 {
		t.Errorf("dead letters after the drop:\n%s", out)
	}
	if code, _, errOut := emfa(t, "sync", "dead-letters", "drop", "7", "--config", cfg); code != 1 || !strings.Contains(errOut, "no dead letter 7") {
		t.Errorf("drop again: exit %d, %q", code, errOut)
	}
	if code, _, errOut := emfa(t, "sync", "dead-letters", "retry", "7", "--config", cfg); code != 1 || !strings.Contains(errOut, "no dead letter 7") {
		t.Errorf("retry of a dropped dead letter: exit %d, %q", code, errOut)
	}
	var st struct {
		Counts map[string]map[string]int `json:"counts"`
	}
	jsonMust(t, mustEmfa(t, "sync", "status", "--json", "--config", cfg), &st)
	if st.Counts["okta"]["done"] != 1 || st.Counts["okta"]["dead"] != 0 || st.Counts["okta"]["pending"] != 1 {
		t.Errorf("status after the drop: %v", st.Counts)
	}
	var got []string
	for _, ev := range auditLines(t, mustEmfa(t, "audit", "--json", "--config", cfg)) {
		got = append(got, ev.Resource+" "+ev.Outcome+" "+ev.Actor+" "+ev.Reason)
	}
	if want := []string{"admin.sync.drop SUCCESS cli dead letter 7"}; !slices.Equal(got, want) {
		t.Errorf("audit trail %q, want %q", got, want)
	}
}

// TestSyncPendingDrop: what is queued for a provider the configuration no longer has is
// shown WAITING removed (a provider still configured's is not); `emfa sync pending drop`
// gives up the pending events of the source it names that no worker holds, says how many
// and what it kept, and each drop of any is recorded with how many; other sources'
// events are not touched, and --source is required.
func TestSyncPendingDrop(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "emfa.yaml")
	replaceFile(t, cfg, mustRead(t, duoAdminConfig))
	duoAdmin(t, map[string]string{"EMFA_STORAGE_DSN": "file:" + filepath.Join(dir, "emfa.db")})
	queued := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	held := time.Now().Add(time.Hour)
	syncDB(t, cfg,
		queueRow(1, "propagate:gone", "user.create", "propagate:gone/user:bob", "pending", 2, time.Time{}, "vendor down", queued),
		queueRow(2, "propagate:gone", "user.create", "propagate:gone/user:carol", "pending", 0, time.Time{}, "", queued),
		fmt.Sprintf(`UPDATE sync_events SET owner = 'w', lease_until = %d WHERE seq = 2`, held.UnixMilli()),
		queueRow(3, "propagate:duoadmin", "user.create", "propagate:duoadmin/user:dave", "pending", 0, time.Time{}, "", queued),
		queueRow(4, "okta", "user.create", "user:erin", "pending", 0, time.Time{}, "", queued),
	)
	waiting := map[float64]any{}
	for line := range strings.Lines(mustEmfa(t, "sync", "pending", "--json", "--config", cfg)) {
		var v map[string]any
		jsonMust(t, line, &v)
		waiting[v["seq"].(float64)] = v["waiting"]
	}
	if want := map[float64]any{1: "removed", 2: "removed", 3: "queued", 4: "queued"}; !reflect.DeepEqual(waiting, want) {
		t.Errorf("waiting %v, want %v", waiting, want)
	}
	if out := mustEmfa(t, "sync", "pending", "--config", cfg); !strings.Contains(grepLines(out, "propagate:gone/user:bob"), "removed") {
		t.Errorf("pending:\n%s", out)
	}

	if code, _, errOut := emfa(t, "sync", "pending", "drop", "--config", cfg); code != 2 || !strings.Contains(errOut, "--source is required") {
		t.Errorf("drop without --source: exit %d, %q", code, errOut)
	}
	out := mustEmfa(t, "sync", "pending", "drop", "--source", "propagate:gone", "--config", cfg)
	if !strings.Contains(out, "1 pending event(s) of propagate:gone dropped") || !strings.Contains(out, "held by a worker") {
		t.Errorf("drop of propagate:gone:\n%s", out)
	}
	out = mustEmfa(t, "sync", "pending", "drop", "--source", "propagate:duoadmin", "--config", cfg)
	if !strings.Contains(out, "1 pending event(s) of propagate:duoadmin dropped") || !strings.Contains(out, "duoadmin is still configured") ||
		strings.Contains(out, "held") {
		t.Errorf("drop of propagate:duoadmin:\n%s", out)
	}
	if out := mustEmfa(t, "sync", "pending", "drop", "--source", "propagate:duoadmin", "--config", cfg); !strings.Contains(out, "0 pending event(s)") {
		t.Errorf("drop of nothing:\n%s", out)
	}
	var st struct {
		Counts map[string]map[string]int `json:"counts"`
	}
	jsonMust(t, mustEmfa(t, "sync", "status", "--json", "--config", cfg), &st)
	if want := map[string]map[string]int{"propagate:gone": {"done": 1, "pending": 1}, "propagate:duoadmin": {"done": 1}, "okta": {"pending": 1}}; !reflect.DeepEqual(st.Counts, want) {
		t.Errorf("counts %v, want %v", st.Counts, want)
	}
	if out := mustEmfa(t, "sync", "pending", "--source", "propagate:gone", "--config", cfg); strings.Contains(out, "user:bob") {
		t.Errorf("the dropped event is still pending:\n%s", out)
	}
	var got []string
	for _, ev := range auditLines(t, mustEmfa(t, "audit", "--json", "--config", cfg)) {
		got = append(got, ev.Resource+" "+ev.Outcome+" "+ev.Actor+" "+ev.Reason)
	}
	slices.Sort(got)
	if want := []string{"admin.sync.drop SUCCESS cli 1 pending event(s) of propagate:duoadmin", "admin.sync.drop SUCCESS cli 1 pending event(s) of propagate:gone"}; !slices.Equal(got, want) {
		t.Errorf("audit trail %q, want %q", got, want)
	}
}
