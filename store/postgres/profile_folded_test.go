package postgres_test

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/store/postgres"
)

// TestProfileFoldedIndexes: a lookup of users by e-mail address or display name
// folded (store.UserQuery.Emails, DisplayNames), as the store writes it, uses the index
// migration 22 makes on that expression; a lookup by their prefixes (EmailPrefixes,
// DisplayNamePrefixes), ranges ORed, ranges over it.
func TestProfileFoldedIndexes(t *testing.T) {
	db, _ := schemaAt(t, 22)
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(t.Context(), `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	plan := func(q string, args ...any) string {
		t.Helper()
		rows, err := tx.QueryContext(t.Context(), `EXPLAIN `+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan += line + "\n"
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		return plan
	}
	for col, index := range map[string]string{"email": "user_profiles_email_folded", "display_name": "user_profiles_display_name_folded"} {
		f := postgres.FoldedOf(col)
		q := `SELECT user_id FROM user_profiles WHERE ` + f + ` IN ($1, $2)`
		if p := plan(q, "a", "b"); !strings.Contains(p, index) {
			t.Errorf("%s: does not use %s: %s", q, index, p)
		}
		q = `SELECT user_id FROM user_profiles WHERE (` + f + ` >= $1 AND ` + f + ` < $2) OR (` + f + ` >= $3 AND ` + f + ` < $4)`
		if p := plan(q, "ал", "ам", "Ал", "Ам"); strings.Count(p, index) != 2 || strings.Contains(p, "Seq Scan") {
			t.Errorf("%s: does not range over %s: %s", q, index, p)
		}
	}
}
