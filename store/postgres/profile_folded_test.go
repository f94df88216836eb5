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
	tx := noSeqScan(t, db)
	for col, index := range map[string]string{"email": "user_profiles_email_folded", "display_name": "user_profiles_display_name_folded"} {
		f := postgres.FoldedOf(col)
		q := `SELECT user_id FROM user_profiles WHERE ` + f + ` IN ($1, $2)`
		if p := explain(t, tx, q, "a", "b"); !strings.Contains(p, index) {
			t.Errorf("%s: does not use %s: %s", q, index, p)
		}
		q = `SELECT user_id FROM user_profiles WHERE (` + f + ` >= $1 AND ` + f + ` < $2) OR (` + f + ` >= $3 AND ` + f + ` < $4)`
		if p := explain(t, tx, q, "ал", "ам", "Ал", "Ам"); strings.Count(p, index) != 2 || strings.Contains(p, "Seq Scan") {
			t.Errorf("%s: does not range over %s: %s", q, index, p)
		}
	}
}
