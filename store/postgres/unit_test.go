package postgres

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// testDB opens the test server's database for the unit's own tests: internal/testdb
// would import this package.
func testDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := os.Getenv("EMFA_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EMFA_TEST_POSTGRES_DSN is not set")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return db
}

// A deferred unit (store.DeferSync) commits without waiting for its WAL flush, and only
// that unit: the setting is the transaction's, so the connection goes back to the pool as
// synchronous as it came.
func TestDeferredUnit(t *testing.T) {
	db := testDB(t)
	db.SetMaxOpenConns(1) // every unit on the same connection
	setting := func(ctx context.Context) string {
		var got string
		err := dialect{}.RunUnit(ctx, db, func(e sqlstore.Execer) error {
			return e.QueryRow(ctx, "SELECT current_setting('synchronous_commit')").Scan(&got)
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, tc := range []struct {
		ctx  context.Context
		want string
	}{
		{t.Context(), "on"},
		{store.DeferSync(t.Context()), "off"},
		{t.Context(), "on"},
	} {
		if got := setting(tc.ctx); got != tc.want {
			t.Errorf("deferred %v: synchronous_commit %q, want %q", store.SyncDeferred(tc.ctx), got, tc.want)
		}
	}
}

// A unit whose statement failed is never reported committed, even when fn goes on as if
// nothing had happened: COMMIT in a failed transaction rolls it back without an error.
func TestFailedStatementIgnoredDoesNotCommit(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	err := dialect{}.RunUnit(ctx, db, func(e sqlstore.Execer) error {
		_, _ = e.Exec(ctx, "SELECT 1/0")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("RunUnit: %v; want the unit reported rolled back", err)
	}
}
