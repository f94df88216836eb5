package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// allSQL records every statement the store's connections run, alone or in a batch.
type allSQL struct {
	mu  sync.Mutex
	sql []string
}

func (r *allSQL) add(q string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sql = append(r.sql, q)
}

func (r *allSQL) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.add(d.SQL)
	return ctx
}
func (r *allSQL) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *allSQL) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (r *allSQL) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.add(d.SQL)
}
func (r *allSQL) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// The first of r's statements that contains part.
func (r *allSQL) find(part string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.sql {
		if strings.Contains(q, part) {
			return q
		}
	}
	return ""
}

// The audit trail has three indexes, its key (time, id) and those by user and by
// resource: every audit row (one a validation) is an insert into each, about 11k of
// the server's ~452k instructions a validation apiece (callgrind, BenchmarkSerial). Its key
// was id alone beside an index on (time, id), which no query needed both of: each query
// the store runs on audit (its listings, QueryAudit's filters, retention's delete as
// DeleteAuditBefore sends it) plans with an index's condition and no scan of the table,
// where the planner takes an index wherever one serves.
func TestAuditKey(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	dsn := sv.SchemaDSN(t, schema)
	tr := &allSQL{}
	s, err := postgres.Open(t.Context(), dsn, postgres.MaxConns(1), postgres.Traced(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for i := range 5 {
		if err := s.AppendAudit(ctx, store.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), RequestID: "r",
			Provider: "p", Username: "alice", Capability: "totp", FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteAuditBefore(ctx, t0.Add(2*time.Second), 10); err != nil || n != 2 {
		t.Fatalf("DeleteAuditBefore: %d, %v; want 2", n, err)
	}
	if got := audited(t, s); len(got) != 3 {
		t.Errorf("audit after retention %q, want three rows", got)
	}
	del := tr.find("DELETE FROM audit")
	if del == "" {
		t.Fatal("DeleteAuditBefore sent no DELETE FROM audit")
	}

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	t.Cleanup(func() { db.Close() })
	rows, err := db.QueryContext(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'audit' ORDER BY indexname`, schema)
	if err != nil {
		t.Fatal(err)
	}
	var indexes []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, name+def[strings.LastIndex(def, " USING "):])
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"audit_pkey USING btree (\"time\", id)",
		"audit_resource_time USING btree (resource, \"time\", id)",
		"audit_username_time USING btree (lower(username), \"time\", id)",
	}
	if strings.Join(indexes, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit's indexes:\n%s\nwant:\n%s", strings.Join(indexes, "\n"), strings.Join(want, "\n"))
	}

	tx := noSeqScan(t, db)
	const (
		cols   = `SELECT id, time, request_id, provider, username, capability, factor_id, resource, outcome, reason, webhook_id, actor FROM audit`
		order  = ` ORDER BY time DESC, id DESC LIMIT 10`
		before = `(time < $1 OR (time = $1 AND id < $2))`
	)
	for _, tc := range []struct {
		q     string
		args  []any
		index string
	}{
		{cols + order, nil, "audit_pkey"},
		{cols + ` WHERE ` + before + order, []any{int64(1), int64(2)}, "audit_pkey"},
		{cols + ` WHERE time >= $1 AND time < $2` + order, []any{int64(1), int64(2)}, "audit_pkey"},
		{cols + ` WHERE lower(username) = $1` + order, []any{"alice"}, "audit_username_time"},
		{cols + ` WHERE resource = $1` + order, []any{"validate"}, "audit_resource_time"},
		{del, []any{int64(1), 10}, "audit_pkey"},
	} {
		plan := explain(t, tx, tc.q, tc.args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "Seq Scan on audit") {
			t.Errorf("%s:\n%s\nwant %s, no scan of audit", tc.q, plan, tc.index)
		}
		if tc.q == del && !strings.Contains(plan, "Index Cond: ((\"time\" = ") {
			// The rows the sub-select picked, found again by the whole key.
			t.Errorf("retention's delete finds its rows without the key:\n%s", plan)
		}
	}
}

// Migration 26 moves the audit trail's key to (time, id) and keeps every row and id;
// its down migration puts back the key on id and audit_time.
func TestMigrationAuditKey(t *testing.T) {
	t.Parallel()
	db, _ := schemaAt(t, 25)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `INSERT INTO audit (time, request_id, provider, username, capability, factor_id, resource, outcome, reason)
		SELECT g % 3, 'r', 'p', 'u', 'c', 'f', 'validate', 'SUCCESS', '' FROM generate_series(1, 10) g`); err != nil {
		t.Fatal(err)
	}
	key := func() string {
		t.Helper()
		var def string
		if err := db.QueryRowContext(ctx, `SELECT pg_get_constraintdef(oid) FROM pg_constraint
			WHERE conrelid = 'audit'::regclass AND contype = 'p'`).Scan(&def); err != nil {
			t.Fatal(err)
		}
		return def
	}
	ids := func() string {
		t.Helper()
		var s string
		if err := db.QueryRowContext(ctx, `SELECT string_agg(id::text || ':' || time, ',' ORDER BY id) FROM audit`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	was := ids()
	if err := sqlstore.MigrateTo(ctx, db, goose.DialectPostgres, postgres.Migrations, 26); err != nil {
		t.Fatal(err)
	}
	if got := key(); got != `PRIMARY KEY ("time", id)` {
		t.Errorf("key after migration 26: %s", got)
	}
	if got := ids(); got != was {
		t.Errorf("rows after migration 26: %s, want %s", got, was)
	}
	downTo(t, db, 25)
	if got := key(); got != `PRIMARY KEY (id)` {
		t.Errorf("key after migration 26's down: %s", got)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = 'audit' AND indexname = 'audit_time'
		AND schemaname = current_schema()`).Scan(&n); err != nil || n != 1 {
		t.Errorf("audit_time after migration 26's down: %d, %v", n, err)
	}
	if got := ids(); got != was {
		t.Errorf("rows after migration 26's down: %s, want %s", got, was)
	}
}
