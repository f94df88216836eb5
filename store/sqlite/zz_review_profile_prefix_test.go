package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewProfileFoldedPrefixIndexes: a lookup of users by the prefixes of an e-mail
// address or a display name folded (store.UserQuery.EmailPrefixes,
// DisplayNamePrefixes), ranges ORed as the store writes them, uses migration 20's
// indexes, each range along its index.
func TestReviewProfileFoldedPrefixIndexes(t *testing.T) {
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
	for col, index := range map[string]string{"email": "user_profiles_email_folded", "display_name": "user_profiles_display_name_folded"} {
		f := dialect{}.FoldedOf(col)
		q := `SELECT user_id FROM user_profiles WHERE (` + f + ` >= 'ал' AND ` + f + ` < 'ам') OR (` + f + ` >= 'Ал' AND ` + f + ` < 'Ам')`
		rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(new(int), new(int), new(int), &line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		all := strings.Join(plan, "\n")
		if strings.Count(all, index+" (<expr>>? AND <expr><?)") != 2 || strings.Contains(all, "SCAN user_profiles\n") || strings.HasSuffix(all, "SCAN user_profiles") {
			t.Errorf("%s: does not range over %s: %s", q, index, all)
		}
	}
}
