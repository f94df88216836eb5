package postgres

import "time"

// SetCommitWait sets commitWait to d until the returned func restores it.
func SetCommitWait(d time.Duration) (restore func()) {
	was := commitWait
	commitWait = d
	return func() { commitWait = was }
}
