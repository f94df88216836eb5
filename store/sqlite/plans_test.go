package sqlite

import (
	"strings"
	"testing"
)

// TestTransactionIdempotencyPlans plans each query the store runs on the
// transactions and the idempotency records (as sqlstore writes them: a contract call's
// reads, the compare-and-sets, the cancellations, the pending list, the claim and its
// reads, the sweeps), checks that none scans its table, and that every index of the two
// tables serves at least one of them: none is left to drop for the pages its writes cost
// (each one about a page a call, TestPagesPerCall).
func TestTransactionIdempotencyPlans(t *testing.T) {
	db, plan := planner(t)
	used := map[string]bool{}
	for _, tc := range []struct{ q, want string }{
		// A contract call's read, GetTransaction, notPending.
		{`SELECT id, status FROM transactions WHERE id = $1`, "USING INDEX sqlite_autoindex_transactions_1 (id=?)"},
		{`SELECT f.*, t.* FROM (SELECT id FROM factors WHERE id = $1) AS f
		 LEFT JOIN (SELECT id, status FROM transactions WHERE id = $3) AS t ON TRUE`, "USING INDEX sqlite_autoindex_transactions_1 (id=?)"},
		// CompleteTransaction, CompleteTransactionIfActive, AddAttempt.
		{`UPDATE transactions SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4`, "USING INDEX sqlite_autoindex_transactions_1 (id=?)"},
		{`UPDATE transactions SET attempts = attempts + 1, updated_at = $2 WHERE id = $1 AND status = $3 RETURNING attempts`, "USING INDEX sqlite_autoindex_transactions_1 (id=?)"},
		// CancelPending, CancelOlder (SQLite's), ListPendingTransactions.
		{`UPDATE transactions SET status = $3, updated_at = $4
		 WHERE factor_id = $1 AND id <> $2 AND status = $5 AND expires_at > $4`, "USING INDEX transactions_factor (factor_id=? AND status=?)"},
		{`UPDATE transactions SET status = $3, updated_at = $4
		 WHERE factor_id = $1 AND status = $5 AND expires_at > $4
		   AND rowid < (SELECT rowid FROM transactions WHERE id = $2)`, "USING INDEX transactions_factor (factor_id=? AND status=? AND rowid<?)"},
		// (Sorted apart: a factor has a pending challenge or two.)
		{`SELECT id FROM transactions WHERE factor_id = $1 AND status = $2 AND expires_at > $3 ORDER BY created_at, id`, "USING INDEX transactions_factor (factor_id=? AND status=?)\nUSE TEMP B-TREE FOR ORDER BY"},
		// DeleteExpiredTransactions.
		{dialect{}.DeleteOldest("transactions", "id", "expires_at < $1", "expires_at"), "USING COVERING INDEX transactions_expires (expires_at<?)"},
		// The claim (the fresh insert's test of another fingerprint), GetIdempotency,
		// CompleteIdempotency, RenewIdempotency, ReleaseIdempotency, otherFingerprintSQL.
		{`SELECT 1 FROM idempotency AS o WHERE o.provider = $1 AND o.webhook_id = $2 AND o.fingerprint <> $3`, "USING COVERING INDEX sqlite_autoindex_idempotency_1 (provider=? AND webhook_id=?)"},
		{`SELECT owner FROM idempotency WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3`, "USING INDEX sqlite_autoindex_idempotency_1 (provider=? AND webhook_id=? AND fingerprint=?)"},
		{`UPDATE idempotency SET done = TRUE, status = $5, body = $6
		 WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3 AND owner = $4 AND NOT done`, "USING INDEX sqlite_autoindex_idempotency_1 (provider=? AND webhook_id=? AND fingerprint=?)"},
		// DeleteExpiredIdempotency.
		{dialect{}.DeleteOldest("idempotency", "provider, webhook_id, fingerprint", "expires_at <= $1", "expires_at"), "USING COVERING INDEX idempotency_expires (expires_at<?)"},
	} {
		p := plan(tc.q)
		if !strings.Contains(p, tc.want) {
			t.Errorf("%s:\n%s\nwant %s", tc.q, p, tc.want)
		}
		for _, line := range strings.Split(p, "\n") {
			if line == "SCAN transactions" || line == "SCAN idempotency" || strings.Contains(line, "TEMP B-TREE") && !strings.Contains(tc.want, line) {
				t.Errorf("%s: %s", tc.q, line)
			}
			if _, index, ok := strings.Cut(line, " INDEX "); ok {
				used[strings.Fields(index)[0]] = true
			}
		}
	}
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('transactions', 'idempotency')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		n++
		if !used[name] {
			t.Errorf("index %s serves none of the queries on its table", name)
		}
	}
	if n != 5 {
		t.Errorf("%d indexes on transactions and idempotency, want 5", n)
	}
}
