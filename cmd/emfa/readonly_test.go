package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/store/sqlite"
)

// A command that only reads, pointed at a SQLite database that is not there (a mistyped
// storage.dsn, a relative one run from another folder), refuses and names the path: it
// neither reads a new, empty store as "nothing" with exit 0 nor leaves one behind.
func TestReadOnlyCommandsCreateNoDatabase(t *testing.T) {
	cfg := writeConfig(t, "")
	db := filepath.Join(filepath.Dir(cfg), "emfa.db")
	for _, args := range [][]string{
		{"audit"}, {"users", "list"}, {"users", "show", "alice"}, {"factors", "list", "--user", "alice"},
		{"tokens", "list"}, {"clients", "list"}, {"sync", "status"}, {"sync", "pending"}, {"sync", "dead-letters", "list"},
	} {
		code, out, errOut := emfa(t, append(args, "--config", cfg)...)
		if code != 1 || !strings.Contains(errOut, db) {
			t.Errorf("%q on a missing database: exit %d, want 1 naming %s\nstdout: %s\nstderr: %s", args, code, db, out, errOut)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("%q created %s", args, db)
		}
	}
	// A command that writes still makes the store on first use, and then the readers read it.
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	if out := mustEmfa(t, "users", "list", "--config", cfg); !strings.Contains(out, "alice") {
		t.Errorf("users list after add: %q", out)
	}
}

// migratedStore makes cfg's SQLite store (emfa.db beside it), migrated, as serve or a
// command that writes would on first use.
func migratedStore(t *testing.T, cfg string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), "file:"+filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}
