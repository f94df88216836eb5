package sqlstore

import (
	"context"
	"strings"
	"sync/atomic"
)

// CountCommits counts the batches s's group writer commits from now on. Call it before s
// makes any write it is to count.
func CountCommits(s *Store) *atomic.Int64 {
	var n atomic.Int64
	prev := s.afterCommit
	s.afterCommit = func() {
		n.Add(1)
		if prev != nil {
			prev()
		}
	}
	return &n
}

// PanicOn makes every statement of s's group writer that begins with prefix panic, as a
// driver's fault would, outside the unit's own code; off until stop is called. Call it
// and stop while no batch reads the hook (a holder's fn running is such a time).
func PanicOn(s *Store, prefix string) (stop func()) {
	s.g.traced = func(q Execer) Execer { return panickingQuerier{q, prefix} }
	return func() { s.g.traced = nil }
}

type panickingQuerier struct {
	Execer
	prefix string
}

func (p panickingQuerier) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if strings.HasPrefix(strings.TrimSpace(q), p.prefix) {
		panic("driver fault: " + p.prefix)
	}
	return p.Execer.Exec(ctx, q, args...)
}
