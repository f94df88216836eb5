package sqlstore

import "database/sql"

// ReadPool is s's pool of reads.
func ReadPool(s *Store) *sql.DB { return s.r }

// SetReadPool makes s read through r.
func SetReadPool(s *Store, r *sql.DB) { s.r, s.rq = r, s.on(r, nil) }
