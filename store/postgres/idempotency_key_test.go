package postgres_test

import (
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// The idempotency record's key columns compare by bytes (COLLATE "C", migration 27), as
// SQLite's BINARY does, and so does the key's index: each validation with an
// X-Webhook-ID inserts into it and probes it, and under the database's collation every
// comparison of those opaque IDs went through strcoll or ICU (-1.4 % of the server's
// instructions a validation under ICU's en-US, -0.5 % under C.UTF-8). A record kept
// across the migration is found by its key after it, and the down migration puts the
// database's collation back.
func TestIdempotencyKeyBytes(t *testing.T) {
	t.Parallel()
	db, _ := schemaAt(t, 26)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO idempotency VALUES ('p', 'W-1', 'validate:ab', 'o', TRUE, 200, '{}', 0, 9e15, 0)`); err != nil {
		t.Fatal(err)
	}
	collations := func() string {
		t.Helper()
		var cols, index string
		if err := db.QueryRowContext(ctx, `SELECT string_agg(a.attname || ' ' || c.collname, ', ' ORDER BY a.attnum)
			FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
			WHERE a.attrelid = 'idempotency'::regclass AND a.attname IN ('provider', 'webhook_id', 'fingerprint')`).Scan(&cols); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT string_agg(c.collname, ', ' ORDER BY k.n)
			FROM pg_index i, unnest(i.indcollation) WITH ORDINALITY AS k(coll, n), pg_collation c
			WHERE i.indrelid = 'idempotency'::regclass AND i.indisprimary AND c.oid = k.coll`).Scan(&index); err != nil {
			t.Fatal(err)
		}
		return cols + "; key " + index
	}
	if err := sqlstore.MigrateTo(ctx, db, goose.DialectPostgres, postgres.Migrations, 27); err != nil {
		t.Fatal(err)
	}
	if got, want := collations(), "provider C, webhook_id C, fingerprint C; key C, C, C"; got != want {
		t.Errorf("idempotency's key: %s, want %s", got, want)
	}
	tx := noSeqScan(t, db)
	q := `SELECT status FROM idempotency WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3`
	if plan := explain(t, tx, q, "p", "W-1", "validate:ab"); !strings.Contains(plan, "idempotency_pkey") {
		t.Errorf("a record by its key does not use the key's index:\n%s", plan)
	}
	var status int
	if err := tx.QueryRowContext(ctx, q, "p", "W-1", "validate:ab").Scan(&status); err != nil || status != 200 {
		t.Errorf("the record kept across the migration: %d, %v", status, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	downTo(t, db, 26)
	if got, want := collations(), "provider default, webhook_id default, fingerprint default; key default, default, default"; got != want {
		t.Errorf("idempotency's key after migration 27's down: %s, want %s", got, want)
	}
}
