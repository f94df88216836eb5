package sqlstore

import "database/sql"

// ReviewReader is s's pool of reads.
func ReviewReader(s *Store) *sql.DB { return s.r }

// ReviewSetReader makes s read through r.
func ReviewSetReader(s *Store, r *sql.DB) { s.r, s.rq = r, s.on(r, nil) }
