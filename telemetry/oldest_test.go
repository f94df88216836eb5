package telemetry

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOldestPendingFromClockAhead: a source whose only pending event was queued by
// a process whose clock ran an hour ahead (its created_at an hour from now) shows an oldest
// pending age of 0, not -3600 seconds, which an alert on the age would read as none at all
// and a dashboard draw below its axis.
func TestOldestPendingFromClockAhead(t *testing.T) {
	clock := newClock()
	m := NewMetrics("test")
	stats := []SyncSourceStats{{Source: "propagate:duo", Pending: 1, OldestPending: clock.Now().Add(time.Hour)}}
	m.WatchSync(SyncWatch{Read: func(context.Context) ([]SyncSourceStats, error) { return stats, nil }, Now: clock.Now})
	if got := gather(t, m); !slices.Contains(got, "emfa_sync_oldest_pending_seconds{source=propagate:duo} 0") {
		t.Errorf("scrape:\n%s", strings.Join(got, "\n"))
	}
}
