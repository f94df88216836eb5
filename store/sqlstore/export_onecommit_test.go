package sqlstore

// OnCommit makes s's group writer call fn after each batch it commits, after what it
// called there before (AfterCommit). Call it before s makes any write it is to see.
func OnCommit(s *Store, fn func()) {
	prev := s.afterCommit
	s.afterCommit = func() {
		if prev != nil {
			prev()
		}
		fn()
	}
}
