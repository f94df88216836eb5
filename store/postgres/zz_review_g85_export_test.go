package postgres

import "time"

// G85CommitWait sets commitWait to d until the returned func restores it.
func G85CommitWait(d time.Duration) (restore func()) {
	was := commitWait
	commitWait = d
	return func() { commitWait = was }
}
