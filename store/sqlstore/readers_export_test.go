package sqlstore

import "database/sql"

// Readers is s's read pool.
func Readers(s *Store) *sql.DB { return s.r }

// OnTakingReader has s call fn as each keyed read is about to take a reader connection.
// Call it before any read.
func OnTakingReader(s *Store, fn func()) { s.takingReader = fn }
