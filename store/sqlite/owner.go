package sqlite

import (
	"errors"
	"fmt"
	"os"
)

// ErrOwned: another process serves the database file already.
var ErrOwned = errors.New("another emfa process serves this SQLite database")

// Own marks the calling process as the one that serves the database dsn names, for as long
// as it runs or until release is called: SQLite has one writer per file and emfa keeps
// decisions nowhere else, so only one `emfa serve` may use a file; several replicas need
// PostgreSQL. It holds an exclusive lock on dsn's file with ".serve.lock" appended, which
// the kernel drops when the process dies, so a killed server never blocks its successor.
// A second Own on the same file fails with ErrOwned. Commands that only administer
// (users, factors) do not call it and may run beside the server. An in-memory database
// needs no lock.
func Own(dsn string) (release func() error, err error) {
	base, _, memory, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if memory {
		return func() error { return nil }, nil
	}
	path := dbPath(base) // Path's file
	lock := path + ".serve.lock"
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock %s: %w", lock, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, ErrOwned) {
			return nil, fmt.Errorf("%w: %s (lock %s is held). Run one `emfa serve` per SQLite file; "+
				"for several replicas use PostgreSQL (README: \"Running several replicas\")", ErrOwned, path, lock)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", lock, err)
	}
	return f.Close, nil // closing the file releases the lock
}
