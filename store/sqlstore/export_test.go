package sqlstore

import (
	"context"
	"time"
)

// ProbeEvery is the least time between two write probes.
const ProbeEvery = probeEvery

// SetClock makes s's fault tracking read the time from now. Call it before any write.
func SetClock(s *Store, now func() time.Time) { s.faults.now = now }

// OnProbe has s call fn as each write probe begins. Call it while no Ping runs.
func OnProbe(s *Store, fn func()) { s.faults.probed = fn }

// ExecWriter runs q on s's writer pool (a pragma of SQLite's one writer connection).
func ExecWriter(ctx context.Context, s *Store, q string) error {
	_, err := s.w.ExecContext(ctx, q)
	return err
}
