package sqlite

import (
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// planner opens a migrated store's file, and plans q there (EXPLAIN QUERY PLAN), q's $n
// each given a literal 1: the lines of its plan, one a line.
func planner(t *testing.T) (*sql.DB, func(q string) string) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	numbered := regexp.MustCompile(`\$[0-9]+`)
	return db, func(q string) string {
		t.Helper()
		rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+numbered.ReplaceAllString(q, "1"))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var lines []string
		for rows.Next() {
			var line string
			if err := rows.Scan(new(int), new(int), new(int), &line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
}

// TestProfileFoldedIndexes: a lookup of users by e-mail address or display name
// folded (store.UserQuery.Emails, DisplayNames), as the store writes it, uses the index
// migration 20 makes on that expression; a lookup by their prefixes
// (EmailPrefixes, DisplayNamePrefixes), ranges ORed, goes along it once a range.
func TestProfileFoldedIndexes(t *testing.T) {
	_, plan := planner(t)
	for col, index := range map[string]string{"email": "user_profiles_email_folded", "display_name": "user_profiles_display_name_folded"} {
		f := dialect{}.FoldedOf(col)
		q := `SELECT user_id FROM user_profiles WHERE ` + f + ` IN ('a', 'b')`
		if p := plan(q); !strings.Contains(p, index) {
			t.Errorf("%s: does not use %s: %s", q, index, p)
		}
		q = `SELECT user_id FROM user_profiles WHERE (` + f + ` >= 'ал' AND ` + f + ` < 'ам') OR (` + f + ` >= 'Ал' AND ` + f + ` < 'Ам')`
		if p := plan(q); strings.Count(p, index+" (<expr>>? AND <expr><?)") != 2 || strings.Contains(p+"\n", "SCAN user_profiles\n") {
			t.Errorf("%s: does not range over %s: %s", q, index, p)
		}
	}
}
