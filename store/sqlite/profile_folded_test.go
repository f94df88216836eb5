package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileFoldedIndexes: a lookup of users by e-mail address or display name
// folded (store.UserQuery.Emails, DisplayNames), as the store writes it, uses the index
// migration 20 makes on that expression.
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
	for col, index := range map[string]string{"email": "user_profiles_email_folded", "display_name": "user_profiles_display_name_folded"} {
		q := `SELECT user_id FROM user_profiles WHERE ` + dialect{}.FoldedOf(col) + ` IN ('a', 'b')`
		var plan string
		if err := db.QueryRowContext(t.Context(), `EXPLAIN QUERY PLAN `+q).Scan(new(int), new(int), new(int), &plan); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, index) {
			t.Errorf("%s: does not use %s: %s", q, index, plan)
		}
	}
}
