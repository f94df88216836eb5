package postgres_test

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/store/postgres"
)

// TestProfileFoldedIndexes: a lookup of users by e-mail address or display name
// folded (store.UserQuery.Emails, DisplayNames), as the store writes it, uses the index
// migration 22 makes on that expression.
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
	for col, index := range map[string]string{"email": "user_profiles_email_folded", "display_name": "user_profiles_display_name_folded"} {
		q := `EXPLAIN SELECT user_id FROM user_profiles WHERE ` + postgres.FoldedOf(col) + ` IN ($1, $2)`
		rows, err := tx.QueryContext(t.Context(), q, "a", "b")
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
		if !strings.Contains(plan, index) {
			t.Errorf("%s: does not use %s: %s", q, index, plan)
		}
	}
}
