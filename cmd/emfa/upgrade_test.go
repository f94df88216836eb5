package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Starting on a database says once which migrations it applied; a database a newer emfa
// migrated is refused with what to do, and storage.allowNewerSchema (its EMFA_ variable)
// runs on it anyway.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	cfg := writeTestConfig(t, fmt.Sprintf("driver: sqlite\n  dsn: \"file:%s\"", path),
		"providers:\n  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp], engine: builtin}\n")
	const migrated = "migrated the database's schema"
	_, _, errOut := emfa(t, "users", "add", "alice", "--config", cfg)
	if n := strings.Count(errOut, migrated); n != 1 {
		t.Errorf("the first command on a new database logged %q %d times, want once:\n%s", migrated, n, errOut)
	}
	if _, _, errOut := emfa(t, "users", "list", "--config", cfg); strings.Contains(errOut, migrated) {
		t.Errorf("a command with nothing to migrate logged %q:\n%s", migrated, errOut)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var latest int64
	if err := db.QueryRow(`SELECT MAX(version_id) FROM goose_db_version`).Scan(&latest); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, TRUE)`, latest+1); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := emfa(t, "users", "list", "--config", cfg)
	want := fmt.Sprintf("the database's schema is version %d, newer than this emfa's %d: this emfa is older than the one that last migrated it; "+
		"run that version or newer, or restore a backup taken before", latest+1, latest)
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "storage.allowNewerSchema: true") {
		t.Errorf("users list on a newer schema: exit %d, want 1 saying %q and how to allow it:\n%s", code, want, errOut)
	}

	t.Setenv("EMFA_STORAGE_ALLOWNEWERSCHEMA", "true")
	code, out, errOut := emfa(t, "users", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(errOut, "running on a newer schema") {
		t.Errorf("users list on a newer schema, allowed: exit %d, want 0 with alice and a warning:\n%s\n%s", code, out, errOut)
	}
}
