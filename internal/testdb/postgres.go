package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// DSNEnv names the server PostgreSQL tests use. Unset, they skip; set but unreachable,
// they fail, so a CI that sets it can never pass by skipping.
const DSNEnv = "EMFA_TEST_POSTGRES_DSN"

// Server is a database the tests may create schemas in.
type Server struct {
	DSN   string
	Admin *pgxpool.Pool
}

// Connect returns the server named by DSNEnv, skipping tb when the variable is unset.
func Connect(tb testing.TB) *Server {
	tb.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL tests "+
			"(set it to e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them)", DSNEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		tb.Fatalf("%s: %v", DSNEnv, err)
	}
	if err := admin.Ping(ctx); err != nil {
		admin.Close()
		tb.Fatalf("%s is set but the server does not answer: %v", DSNEnv, err)
	}
	tb.Cleanup(admin.Close)
	return &Server{DSN: dsn, Admin: admin}
}

// Postgres opens a store in a fresh schema of its own (see Server.Open).
func Postgres(tb testing.TB) store.Store { return Connect(tb).Open(tb) }

// Open opens a store in a schema of its own, which is dropped when tb ends, so tests run
// in parallel without seeing each other's rows and leave nothing behind. The schema is
// migrated first (Migrated), so Open finds it at the latest version.
func (sv *Server) Open(tb testing.TB) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), sv.Migrated(tb))
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { s.Close() }) // runs before the schema's cleanup: last in, first out
	return s
}

// Migrated returns the DSN (SchemaDSN) of a new schema that is dropped when tb ends, with
// the migrations applied, as a first start applies them, but without the migration lock
// that postgres.Open takes. That lock is one for the whole database, every test's schema
// and every test binary's (go test runs two packages at once, and others' runs share the
// server): each test's first Open waited its turn, trying every 100 ms, and the lock was
// held in 95 of 100 looks 0.1 s apart while store/postgres and cmd/emfa ran. The schema
// is this test's alone: there is nothing to serialize. The tests of a first start, which
// migrates under the lock, open a NewSchema themselves.
func (sv *Server) Migrated(tb testing.TB) string {
	tb.Helper()
	dsn := sv.SchemaDSN(tb, sv.NewSchema(tb))
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", DSNEnv, err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	if err := sqlstore.Migrate(context.Background(), db, goose.DialectPostgres, postgres.Migrations); err != nil {
		tb.Fatalf("migrate a new schema: %v", err)
	}
	return dsn
}

// NewSchema creates an empty schema that is dropped when tb ends.
func (sv *Server) NewSchema(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	schema := "emfa_t_" + hex.EncodeToString(b)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := sv.Admin.Exec(context.Background(), "CREATE SCHEMA "+ident); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := sv.Admin.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// testPoolSize bounds each test store's pool, unless the DSN of DSNEnv says otherwise:
// tests run in parallel against one server (shared, in CI and on a dev machine, with other
// suites), whose max_connections the default pool of every store at once would exceed.
const testPoolSize = "4"

// SchemaDSN is the server's DSN with search_path set to schema, in URL or keyword/value
// form; pgx passes it to the server as a run-time parameter. Its pool is testPoolSize
// connections unless the DSN sets pool_max_conns.
func (sv *Server) SchemaDSN(tb testing.TB, schema string) string {
	tb.Helper()
	if !strings.HasPrefix(sv.DSN, "postgres://") && !strings.HasPrefix(sv.DSN, "postgresql://") {
		if !strings.Contains(sv.DSN, "pool_max_conns") {
			return sv.DSN + " search_path=" + schema + " pool_max_conns=" + testPoolSize
		}
		return sv.DSN + " search_path=" + schema
	}
	u, err := url.Parse(sv.DSN)
	if err != nil {
		tb.Fatalf("%s: %v", DSNEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	if !q.Has("pool_max_conns") {
		q.Set("pool_max_conns", testPoolSize)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
