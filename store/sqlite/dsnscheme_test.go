package sqlite_test

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/store/sqlite"
)

// storage.dsn written as other tools write a SQLite URL, `sqlite:///var/lib/emfa/emfa.db`
// (SQLAlchemy, Django's dj-database-url) or `sqlite3://…`, passed emfa check, and serve
// made a directory named `sqlite:` in the working directory with a new, empty store in it.
// Such a DSN is now refused, saying what to write.
func TestOtherToolsSQLiteURLRefused(t *testing.T) {
	for _, dsn := range []string{"sqlite:///var/lib/emfa/emfa.db", "sqlite://emfa.db", "SQLite3:///emfa.db", "sqlite:emfa.db"} {
		err := sqlite.CheckDSN(dsn)
		if err == nil || !strings.Contains(err.Error(), "file:") {
			t.Errorf("%s: %v, want a refusal saying to write file:PATH or the path", dsn, err)
		}
	}
	for _, dsn := range []string{"emfa.db", "file:emfa.db", "file:/var/lib/emfa/emfa.db?_txlock=immediate", ":memory:", "sqlite-data/emfa.db"} {
		if err := sqlite.CheckDSN(dsn); err != nil {
			t.Errorf("%s: refused: %v", dsn, err)
		}
	}
}
