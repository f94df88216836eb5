package postgres_test

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestReplicaAcrossCollationChange: what the README says of a rolling upgrade
// across migration 27, which changes the collation of the idempotency record's key
// columns: a replica already running, whose connection prepared the record's read before
// the migration, fails that read once on that connection (PostgreSQL's "cached plan must
// not change result type", SQLSTATE 0A000), and then reads as before: pgx forgets the
// statement and prepares it again. The replica here runs this emfa on the schema as it
// was before 27 (its version row written ahead), as an older one would.
func TestReplicaAcrossCollationChange(t *testing.T) {
	db, dsn := schemaAt(t, 26)
	ctx := t.Context()
	// 27 and the migrations after it, so that the replica applies none of them.
	entries, err := fs.ReadDir(postgres.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	latest := len(entries)
	if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) SELECT v, true FROM generate_series(27, $1::int) AS v`, latest); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, dsn, postgres.MaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	key := store.IdempotencyKey{Provider: "p", WebhookID: "w", Fingerprint: "f"}
	if _, err := s.ClaimIdempotency(ctx, key, "o", now.Add(time.Minute), now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetIdempotency(ctx, key); err != nil {
		t.Fatal(err)
	}

	// Another replica, newer, migrates.
	if _, err := db.ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id >= 27`); err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.MigrateTo(ctx, db, goose.DialectPostgres, postgres.Migrations, 27); err != nil {
		t.Fatal(err)
	}

	_, err = s.GetIdempotency(ctx, key)
	if err == nil || !strings.Contains(err.Error(), "0A000") {
		t.Errorf("the first read after the migration, on the connection that prepared it before: %v; "+
			"want SQLSTATE 0A000 (if PostgreSQL or pgx now spare it, say so in the README)", err)
	}
	for i := range 3 {
		if r, err := s.GetIdempotency(ctx, key); err != nil || r.Owner != "o" {
			t.Fatalf("read %d after the first: %+v, %v", i+2, r, err)
		}
	}
	if _, err := s.ClaimIdempotency(ctx, key, "o", now.Add(time.Minute), now.Add(time.Hour), now); err != nil {
		t.Errorf("a claim after the migration: %v", err)
	}
}
