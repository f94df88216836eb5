package postgres_test

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/store/postgres"
)

// TestReviewProfileFoldedPrefixIndexes: a lookup of users by the prefixes of an e-mail
// address or a display name folded (store.UserQuery.EmailPrefixes,
// DisplayNamePrefixes), ranges ORed as the store writes them, uses migration 22's
// indexes.
func TestReviewProfileFoldedPrefixIndexes(t *testing.T) {
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
		f := postgres.FoldedOf(col)
		q := `EXPLAIN SELECT user_id FROM user_profiles WHERE (` + f + ` >= $1 AND ` + f + ` < $2) OR (` + f + ` >= $3 AND ` + f + ` < $4)`
		rows, err := tx.QueryContext(t.Context(), q, "ал", "ам", "Ал", "Ам")
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
		if strings.Count(plan, index) != 2 || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: does not range over %s: %s", q, index, plan)
		}
	}
}
