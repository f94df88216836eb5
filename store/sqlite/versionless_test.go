package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmfaTablesWithoutVersionTable: a file with emfa's schema whose
// goose_db_version an operator dropped (or a copy of the tables alone) is refused, as
// its version is unknown, but not as another program's database: the error said to
// check that storage.dsn names emfa's database, which it does. It says what is missing
// and what to do.
func TestEmfaTablesWithoutVersionTable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DROP TABLE goose_db_version`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open took a schema of unknown version")
	}
	for _, want := range []string{"emfa's tables", "goose_db_version", "restore a backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open: %v\nwant it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "not emfa's database") {
		t.Errorf("Open: %v\nemfa's own tables called another program's", err)
	}
}
