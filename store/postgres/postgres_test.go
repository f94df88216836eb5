package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/storetest"
	"github.com/jackc/pgx/v5"
)

func TestConformance(t *testing.T) {
	sv := testdb.Connect(t)
	storetest.Run(t, func(t *testing.T) store.Store { return sv.Open(t) })
}

// TestSearchPath checks that the tables land in the schema the DSN names, which is what
// keeps the parallel tests apart (and lets a deployment share a database).
func TestSearchPath(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	s, err := postgres.Open(t.Context(), sv.SchemaDSN(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	err = sv.Admin.QueryRow(t.Context(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1
		 AND table_name IN ('users', 'factors', 'transactions', 'audit', 'sends', 'nonces', 'goose_db_version')`,
		schema).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("%d of the 7 tables are in schema %s", n, schema)
	}
	// Opening again migrates nothing and keeps the data.
	if err := s.CreateUser(t.Context(), store.User{ID: "u1", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	s2, err := postgres.Open(t.Context(), sv.SchemaDSN(t, schema))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if _, err := s2.GetUser(t.Context(), "alice"); err != nil {
		t.Errorf("GetUser after reopen: %v", err)
	}
}

// TestConcurrentOpen opens one schema from several stores at once, as instances of a
// deployment starting together would: the migration lock must let exactly one migrate.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := postgres.Open(t.Context(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
	}
}

// A schema at this version's migrations opens without the migration lock, so a start is
// not held up by (nor pays a connection for) it; one with a migration pending still waits
// for it.
func TestOpenMigratedNeedsNoLock(t *testing.T) {
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	dsn := sv.SchemaDSN(t, schema)
	s, err := postgres.Open(t.Context(), dsn) // the first start: migrates, under the lock
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Another instance holds the lock (a migration running elsewhere, or stuck).
	holder, err := sv.Admin.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	const lockID = 0x656d66616d696772 // postgres.migrationLockID, the bytes of "emfamigr"
	if _, err := holder.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, int64(lockID)); err != nil {
		t.Fatal(err)
	}
	defer holder.Exec(context.WithoutCancel(t.Context()), `SELECT pg_advisory_unlock($1)`, int64(lockID))

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err = postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("an up-to-date schema waited for the migration lock: %v", err)
	}
	s.Close()

	// The newest migration unrecorded: pending, so Open waits for the lock.
	if _, err := sv.Admin.Exec(t.Context(), `DELETE FROM `+schema+`.goose_db_version
		WHERE version_id = (SELECT max(version_id) FROM `+schema+`.goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if s, err := postgres.Open(short, dsn); err == nil {
		s.Close()
		t.Fatal("a schema with a pending migration opened while another held the migration lock")
	} else if !strings.Contains(err.Error(), "migration lock") {
		t.Errorf("pending migration: %v, want a wait for the migration lock", err)
	}
}

// TestOpenUnreachable needs no server: nothing listens on port 1. The error must say what
// failed without carrying the password.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, "postgres://emfa:hunter2@127.0.0.1:1/emfa?sslmode=disable&connect_timeout=5")
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with no server")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error reveals the password: %v", err)
	}
}

func BenchmarkAdvanceCounter(b *testing.B) {
	sv := testdb.Connect(b)
	storetest.BenchAdvanceCounter(b, func(b *testing.B) store.Store { return sv.Open(b) })
}

func BenchmarkGetFactor(b *testing.B) {
	sv := testdb.Connect(b)
	storetest.BenchGetFactor(b, func(b *testing.B) store.Store { return sv.Open(b) })
}

func BenchmarkDecision(b *testing.B) {
	sv := testdb.Connect(b)
	storetest.BenchDecision(b, func(b *testing.B) store.Store { return sv.Open(b) })
}

// PostgreSQL's lower() under COLLATE "C" (users.name's and, from migration 10,
// audit.username's), which the folded indexes are built with, folds exactly what
// store.FoldName folds; the database's own locale would not (the Kelvin sign, À).
func TestFoldNameIsLower(t *testing.T) {
	sv := testdb.Connect(t)
	for _, name := range storetest.FoldSamples() {
		var got string
		if err := sv.Admin.QueryRow(t.Context(), `SELECT lower($1::text COLLATE "C")`, name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := store.FoldName(name); got != want {
			t.Errorf("lower(%q) = %q, FoldName %q", name, got, want)
		}
	}
}

// Every write taken with its audit record commits both or neither: a trigger refuses the
// record, and the change must not stay behind.
func TestRecordedOrNothing(t *testing.T) {
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	st, err := postgres.Open(t.Context(), sv.SchemaDSN(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	storetest.RecordedOrNothing(t, st, func(t *testing.T) {
		ident := pgx.Identifier{schema}.Sanitize()
		if _, err := sv.Admin.Exec(t.Context(), `CREATE FUNCTION `+ident+`.refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.actor = '`+storetest.RefusedActor+`' THEN RAISE EXCEPTION 'the test refuses this record'; END IF;
				RETURN NEW;
			END $$;
			CREATE TRIGGER refuse_audit BEFORE INSERT ON `+ident+`.audit FOR EACH ROW EXECUTE FUNCTION `+ident+`.refuse_audit()`); err != nil {
			t.Fatal(err)
		}
	})
}

// A DSN whose search_path names a schema that does not exist is refused at open with
// what to do, not with PostgreSQL's "no schema has been selected to create in".
func TestMissingSchema(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	_, err := postgres.Open(t.Context(), sv.SchemaDSN(t, "emfa_no_such_schema"))
	if err == nil || !strings.Contains(err.Error(), "CREATE SCHEMA") || !strings.Contains(err.Error(), "emfa_no_such_schema") {
		t.Errorf("open on a missing schema: %v", err)
	}
}
