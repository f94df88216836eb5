package sqlite

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestForeignDatabaseRefused: a storage.dsn that names another program's SQLite
// database (a mistyped path, a file restored to the wrong place) is refused, saying so,
// and the file is left byte for byte as it was: no schema of emfa's, no goose version
// table, no switch to WAL. Opened, it became emfa's database as well, its owner's tables
// kept beside emfa's, or, where a table's name was emfa's too, the start failed on
// "table users already exists" with goose's version table left in it.
func TestForeignDatabaseRefused(t *testing.T) {
	for name, schema := range map[string]string{
		"other tables":        `CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places (url) VALUES ('https://example.com/')`,
		"a table named users": `CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT); INSERT INTO users (login) VALUES ('root')`,
		"a view only":         `CREATE VIEW answer AS SELECT 42`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "emfa.db")
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(t.Context(), schema); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			s, err := Open(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatal("Open took another program's database for emfa's")
			}
			for _, want := range []string{"not emfa's database", "goose_db_version", "check that storage.dsn names emfa's database"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open: %v\nwant it to say %q", err, want)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("the other program's database file was changed")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("the directory holds %v, want emfa.db alone", names)
			}
		})
	}
}

// TestEmfaDatabasesOpen: what the refusal above must not catch: an empty file
// (one a start created and stopped before its schema committed) and emfa's own database
// at an older version.
func TestEmfaDatabasesOpen(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "emfa.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, old := atVersion(t, 8)
	for _, path := range []string{empty, old} {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open %s: %v", path, err)
		}
		var tables []string
		rows, err := s.w.QueryContext(t.Context(), `SELECT name FROM sqlite_schema WHERE type = 'table'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, n)
		}
		rows.Close()
		if !slices.Contains(tables, "selfservice_sessions") {
			t.Errorf("%s: not migrated: tables %v", path, tables)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
