package main

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestSyncStatusJSONNames: `emfa sync status --json` names a paused source's fields in
// lower case, as it names the counts and as every other --json output does.
func TestSyncStatusJSONNames(t *testing.T) {
	cfg := writeConfig(t, "")
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migratedStore(t, cfg) // a command that only reads makes none
	if _, err := db.Exec(`INSERT INTO sync_pauses (source, reason, created_at) VALUES ('okta', '100 users deleted in the last hour', 0)`); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Paused []map[string]any `json:"paused"`
	}
	out := mustEmfa(t, "sync", "status", "--json", "--config", cfg)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(out, err)
	}
	if len(st.Paused) != 1 || st.Paused[0]["source"] != "okta" || st.Paused[0]["reason"] != "100 users deleted in the last hour" || st.Paused[0]["created"] == nil {
		t.Errorf("paused %v, want source, reason and created", st.Paused)
	}
}
