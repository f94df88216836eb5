package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/emfa/emfa/store/sqlstore"
)

// Migration 8 moves a factor's last use from an audit index to the factor's row: a
// database written before it keeps every factor's last use.
func TestMigrationKeepsLastUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.MigrateTo(t.Context(), db, goose.DialectSQLite3, migrations, 7); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users (id, name, created_at) VALUES ('u1', 'alice', 0)`,
		`INSERT INTO factors (id, user_id, type, label, state, key_id, counter, created_at, updated_at) VALUES
			('f1', 'u1', 'totp', '', 'active', '', 0, 0, 0), ('f2', 'u1', 'totp', '', 'active', '', 0, 0, 0),
			('f3', 'u1', 'totp', '', 'active', '', 0, 0, 0)`,
		`INSERT INTO audit (time, request_id, provider, username, capability, factor_id, resource, outcome, reason) VALUES
			(1000, '', '', 'alice', '', 'f1', 'validate', 'SUCCESS', ''),
			(3000, '', '', 'alice', '', 'f1', 'result', 'SUCCESS', ''),
			(5000, '', '', 'alice', '', 'f1', 'validate', 'FAILED', ''),
			(2000, '', '', 'alice', '', 'f2', 'validate', 'SUCCESS', ''),
			(9000, '', '', 'alice', '', 'f3', 'initiate', 'SUCCESS', '')`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.LastUsed(t.Context(), []string{"f1", "f2", "f3"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"f1": time.UnixMilli(3000), "f2": time.UnixMilli(2000)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("last use after migrating (-want +got):\n%s", d)
	}
}
