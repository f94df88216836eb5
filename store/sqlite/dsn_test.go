package sqlite_test

import (
	"os"
	"strings"
	"testing"

	"github.com/emfa/emfa/store/sqlite"
)

// TestPostgresDSNRefused: a PostgreSQL DSN left under the default driver (the
// README's example puts one in a comment beside `driver: sqlite`) is refused by emfa check
// and by Open, without naming its password, rather than become a SQLite file in a
// directory named after the URL, password and all, and an empty store.
func TestPostgresDSNRefused(t *testing.T) {
	for _, dsn := range []string{
		"postgres://emfa:s3cretpw@db:5432/emfa",
		"postgresql://emfa:s3cretpw@db/emfa?sslmode=require",
		"host=db user=emfa password=s3cretpw dbname=emfa",
	} {
		t.Run(dsn, func(t *testing.T) {
			err := sqlite.CheckDSN(dsn)
			if err == nil {
				t.Fatalf("CheckDSN(%q) = nil, want an error", dsn)
			}
			if strings.Contains(err.Error(), "s3cretpw") {
				t.Errorf("CheckDSN's error holds the password: %v", err)
			}
			if !strings.Contains(err.Error(), "storage.driver") {
				t.Errorf("CheckDSN's error does not say to set storage.driver: %v", err)
			}
			t.Chdir(t.TempDir())
			if s, err := sqlite.Open(t.Context(), dsn); err == nil {
				s.Close()
				t.Fatalf("Open(%q) = nil error, want the DSN refused", dsn)
			}
			entries, _ := os.ReadDir(".")
			for _, e := range entries {
				t.Errorf("Open left %q behind", e.Name())
			}
		})
	}
}
