package postgres

import "github.com/emfa/emfa/store/sqlstore"

var _ sqlstore.StorageFaults = dialect{}

// SQLSTATEs of a server that cannot take a write (sqlstore's faults: /readyz answers 503
// while they last).
const (
	diskFull         = "53100" // disk_full: a file of the database could not grow
	ioError          = "58030" // io_error
	readOnlySQLTrans = "25006" // read_only_sql_transaction: a standby, or a database set read-only
)

// StorageFault reports whether the server refused a write for want of space or a writable
// disk, or because it takes no writes (a standby after a failover, a read-only database).
func (dialect) StorageFault(err error) bool {
	switch sqlState(err) {
	case diskFull, ioError, readOnlySQLTrans:
		return true
	}
	return false
}
