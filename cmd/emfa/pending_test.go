package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPendingBehindPausedDeletion: `emfa sync pending` says "paused" of an event
// of a user whose deletion the deletion guard holds, queued behind it (a create of the
// same name, another source's update): it waits for emfa sync resume as the deletion
// does. Before, it said "queued", its turn, and an operator could not tell why nothing
// moved. An event of another user, and one behind a deletion of a source not paused, are
// still "queued", as is one ahead of its user's paused deletion.
func TestPendingBehindPausedDeletion(t *testing.T) {
	cfg := writeConfig(t, "")
	queued := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	syncDB(t, cfg,
		`INSERT INTO sync_pauses (source, reason, created_at) VALUES ('okta', '100 users deleted in the last hour', 0)`,
		queueRow(1, "okta", "user.delete", "user:bob", "pending", 0, time.Time{}, "", queued),
		queueRow(2, "okta", "user.create", "user:bob", "pending", 0, time.Time{}, "", queued.Add(time.Second)),
		queueRow(3, "verify", "user.update", "user:bob", "pending", 0, time.Time{}, "", queued.Add(2*time.Second)),
		queueRow(4, "okta", "user.create", "user:carol", "pending", 0, time.Time{}, "", queued.Add(3*time.Second)),
		queueRow(5, "scim", "user.delete", "user:dave", "pending", 0, time.Time{}, "", queued.Add(4*time.Second)),
		queueRow(6, "okta", "user.create", "user:dave", "pending", 0, time.Time{}, "", queued.Add(5*time.Second)),
		queueRow(7, "okta", "user.update", "user:erin", "pending", 0, time.Time{}, "", queued.Add(6*time.Second)),
		queueRow(8, "okta", "user.delete", "user:erin", "pending", 0, time.Time{}, "", queued.Add(7*time.Second)),
	)
	want := map[float64]string{1: "paused", 2: "paused", 3: "paused", 4: "queued", 5: "queued", 6: "queued", 7: "queued", 8: "paused"}
	got := map[float64]string{}
	for line := range strings.Lines(mustEmfa(t, "sync", "pending", "--json", "--config", cfg)) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got[v["seq"].(float64)], _ = v["waiting"].(string)
	}
	for seq, w := range want {
		if got[seq] != w {
			t.Errorf("event %v waits %q, want %q", seq, got[seq], w)
		}
	}
	// The table says it too.
	for line := range strings.Lines(mustEmfa(t, "sync", "pending", "--source", "verify", "--config", cfg)) {
		if strings.HasPrefix(line, "3 ") && !strings.Contains(line, " paused ") {
			t.Errorf("the table's line of event 3: %q, want paused", line)
		}
	}
}

// A --source no event can have (oktaa, a typo; propagate: without a provider) listed an
// empty table and dropped "0 pending event(s)", which read as "nothing waits", where the
// admin API refuses a filter it cannot match rather than answer an empty page. It is a
// usage error, naming the sources and the one meant; the sources there are still pass.
func TestSyncSourceChecked(t *testing.T) {
	cfg := writeConfig(t, "")
	syncDB(t, cfg, queueRow(1, "okta", "user.create", "user:bob", "pending", 0, time.Time{}, "", time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)))
	for _, args := range [][]string{{"sync", "pending", "--source", "oktaa"}, {"sync", "dead-letters", "list", "--source", "oktaa"}, {"sync", "pending", "drop", "--source", "oktaa"}} {
		code, out, errOut := emfa(t, append(args, "--config", cfg)...)
		if code != 2 || !strings.Contains(errOut, `did you mean "okta"?`) || strings.Contains(out, "dropped") {
			t.Errorf("%q: exit %d, want 2 and the source meant\n%s%s", args, code, out, errOut)
		}
	}
	if code, _, errOut := emfa(t, "sync", "pending", "--source", "propagate:", "--config", cfg); code != 2 {
		t.Errorf("propagate: without a provider: exit %d\n%s", code, errOut)
	}
	for _, source := range []string{"okta", "scim", "verify", "auth0", "propagate:duo"} {
		if code, _, errOut := emfa(t, "sync", "pending", "--source", source, "--config", cfg); code != 0 {
			t.Errorf("--source %s: exit %d\n%s", source, code, errOut)
		}
	}
}
