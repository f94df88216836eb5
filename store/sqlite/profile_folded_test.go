package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileFoldedIndexes: a lookup of users by e-mail address or display name
// folded (store.UserQuery.Emails, DisplayNames), as the store writes it, uses the index
// migration 20 makes on that expression; a lookup by their prefixes
// (EmailPrefixes, DisplayNamePrefixes), ranges ORed, goes along it once a range.
func TestProfileFoldedIndexes(t *testing.T) {
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
	defer db.Close()
	plan := func(q string) string {
		t.Helper()
		rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q)
		if err != nil {
			t.Fatal(err)
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
