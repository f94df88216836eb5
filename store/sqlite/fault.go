package sqlite

import (
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/emfa/emfa/store/sqlstore"
)

var _ sqlstore.StorageFaults = dialect{}

// StorageFault reports whether SQLite says the file system refused the write: a full disk
// or quota (SQLITE_FULL, or the SQLITE_IOERR a refused write() gives), a failing volume
// (SQLITE_IOERR), a read-only file or volume (SQLITE_READONLY). /readyz answers 503 while
// they last (sqlstore's faults).
func (dialect) StorageFault(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary code
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY:
		return true
	}
	return false
}
