package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestConcurrentUpgrade: processes opening one database file at an older version
// together (a restarted `emfa serve` and an `emfa users` command beside it, or several
// commands from a script, right after an upgrade) all open it, migrated once. SQLite
// takes no lock across goose's migrations, each a transaction of its own: all but the
// first failed on a migration another had just applied ("table sends already exists").
func TestConcurrentUpgrade(t *testing.T) {
	for _, from := range []int64{-1, 1, 8} {
		t.Run(fmt.Sprint("from ", from), func(t *testing.T) {
			for round := range 4 {
				var path string
				if from < 0 { // an empty file none of them created
					path = filepath.Join(t.TempDir(), "emfa.db")
					if err := os.WriteFile(path, nil, 0o600); err != nil {
						t.Fatal(err)
					}
				} else {
					var db interface{ Close() error }
					db, path = atVersion(t, from)
					db.Close()
				}
				const n = 3
				errs := make(chan error, n)
				for range n {
					go func() {
						s, err := Open(t.Context(), path)
						if err == nil {
							err = s.Close()
						}
						errs <- err
					}()
				}
				for range n {
					if err := <-errs; err != nil {
						t.Errorf("round %d: Open: %v", round, err)
					}
				}
				s, err := Open(t.Context(), path)
				if err != nil {
					t.Fatal(err)
				}
				var versions, distinct int
				if err := s.w.QueryRowContext(t.Context(), `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&versions, &distinct); err != nil {
					t.Fatal(err)
				}
				if versions != distinct {
					t.Errorf("round %d: %d version rows for %d versions: a migration was recorded twice", round, versions, distinct)
				}
				s.Close()
			}
		})
	}
}
