package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A PostgreSQL schema of the harness's own, created before emfa's migrations run in it
// (?search_path=) and dropped with everything in it at the end.

// pgSchema creates a fresh schema and returns a DSN that selects it and a drop function.
// An unreachable server is reported as such, so the caller can skip PostgreSQL.
func pgSchema(ctx context.Context, dsn string) (schemaDSN, version string, drop func(), err error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", nil, fmt.Errorf("the PostgreSQL DSN must be a postgres:// URL")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return "", "", nil, fmt.Errorf("PostgreSQL at %s unreachable: %w", redactDSN(dsn), err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "emfa_bench_" + hex.EncodeToString(b)
	if err := conn.QueryRow(cctx, "SHOW server_version").Scan(&version); err != nil {
		return "", "", nil, fmt.Errorf("PostgreSQL at %s: %w", redactDSN(dsn), err)
	}
	if _, err := conn.Exec(cctx, "CREATE SCHEMA "+schema); err != nil {
		return "", "", nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		}
		if err != nil {
			logf("could not drop schema %s: %v", schema, err)
		}
	}
	return u.String(), version, drop, nil
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	return u.Redacted()
}

// pgSettle runs, in the schema schemaDSN selects, the maintenance PostgreSQL would run later
// on its own: VACUUM (ANALYZE) of each of its tables, then a CHECKPOINT. The harness runs
// it right after each PostgreSQL row, inside that row's CPU accounting and outside its
// timing, so that autovacuum and the checkpointer do not wake up in the middle of a later
// row (of any store) and charge it for this one's writes.
func pgSettle(ctx context.Context, schemaDSN string) error {
	conn, err := pgx.Connect(ctx, schemaDSN)
	if err != nil {
		return fmt.Errorf("settle PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename)
		FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		return fmt.Errorf("settle PostgreSQL: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("settle PostgreSQL: %w", err)
	}
	for _, t := range tables {
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return fmt.Errorf("settle PostgreSQL: vacuum %s: %w", t, err)
		}
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" { // insufficient_privilege
			return fmt.Errorf("settle PostgreSQL: checkpoint: %w", err)
		}
		// A role without superuser or pg_checkpoint: the vacuum is done, the checkpoint
		// left to the server's own schedule, and the run goes on.
		checkpointRefused.Do(func() {
			logf("PostgreSQL refuses CHECKPOINT to this role (superuser or pg_checkpoint needed): its checkpoints stay on the server's schedule and may fall into any row")
		})
	}
	return nil
}

var checkpointRefused sync.Once
