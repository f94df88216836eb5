package main

import (
	"context"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
	"github.com/emfa/emfa/telemetry"
)

// watchSync shows sq's state on every scrape of m (telemetry.WatchSync): one grouped
// query (store.SyncQueue.SyncStats), at most once per telemetry.DefaultSyncStatsTTL.
// The oldest pending event's time, which the queue dates by the store's clock where
// every replica shares it (store.SharedClock: PostgreSQL's), is read on this process's
// clock, which now is: a replica whose clock is ahead showed the queue older by as much.
func watchSync(m *telemetry.Metrics, sq store.SyncQueue, now func() time.Time) {
	m.WatchSync(telemetry.SyncWatch{Now: now, Read: func(ctx context.Context) ([]telemetry.SyncSourceStats, error) {
		st, err := sq.SyncStats(ctx)
		if err != nil {
			return nil, err
		}
		ahead := clockAhead(sq)
		out := make([]telemetry.SyncSourceStats, len(st))
		for i, s := range st {
			oldest := s.OldestPending
			if !oldest.IsZero() {
				oldest = oldest.Add(ahead)
			}
			out[i] = telemetry.SyncSourceStats{Source: s.Source, Pending: s.Pending, Dead: s.Dead, OldestPending: oldest, Paused: s.Paused}
		}
		return out, nil
	}})
}

// countSync counts what q makes of each event and propagation it finishes on m
// (emfa_sync_events_finished_total, by source and outcome): the queue tells it
// (sync.Queue.Observe), where it decides, in the metric's words (the sync.Outcome*
// constants are telemetry's Sync* outcomes).
func countSync(q *sync.Queue, m *telemetry.Metrics) {
	if m != nil {
		q.Observe = m.SyncFinished
	}
}

// clockAhead is how far this process's clock is ahead of the store's, by which the sync
// queue dates its times where every process shares the store's clock (store.SharedClock:
// PostgreSQL's); 0 for another store (SQLite's, the one process's).
func clockAhead(sq store.SyncQueue) time.Duration {
	if c, ok := sq.(store.SharedClock); ok {
		return c.ClockAhead()
	}
	return 0
}
