package telemetry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// gather is the registry's emfa_sync_* and emfa_store_errors_total series as
// "name{label=value,...} value", sorted.
func gather(t *testing.T, m *Metrics) []string {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "emfa_sync_") && f.GetName() != "emfa_store_errors_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			if f.GetName() == "emfa_store_errors_total" && value(s) == 0 {
				continue // exported at 0 from the start (NewMetrics)
			}
			var ls []string
			for _, l := range s.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out = append(out, fmt.Sprintf("%s{%s} %g", f.GetName(), strings.Join(ls, ","), value(s)))
		}
	}
	slices.Sort(out)
	return out
}

func value(s *dto.Metric) float64 {
	if s.GetCounter() != nil {
		return s.GetCounter().GetValue()
	}
	return s.GetGauge().GetValue()
}

type fakeClock struct {
	mu gosync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time                { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration)           { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock() *fakeClock                         { return &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)} }
func (c *fakeClock) ago(d time.Duration) time.Time { return c.Now().Add(-d) }

// TestSyncGauges: a scrape shows each source's pending and dead events, its oldest pending
// event's age and its pause, from one read; a source whose events are all done since
// shows zeros, not a gap.
func TestSyncGauges(t *testing.T) {
	clock := newClock()
	m := NewMetrics("test")
	stats := []SyncSourceStats{
		{Source: "okta", Pending: 3, Dead: 1, OldestPending: clock.ago(90 * time.Second), Paused: true},
		{Source: "propagate:duo", Dead: 2},
	}
	m.WatchSync(SyncWatch{Read: func(context.Context) ([]SyncSourceStats, error) { return stats, nil }, Now: clock.Now})
	want := []string{
		"emfa_sync_events{source=okta,state=dead} 1",
		"emfa_sync_events{source=okta,state=pending} 3",
		"emfa_sync_events{source=propagate:duo,state=dead} 2",
		"emfa_sync_events{source=propagate:duo,state=pending} 0",
		"emfa_sync_oldest_pending_seconds{source=okta} 90",
		"emfa_sync_oldest_pending_seconds{source=propagate:duo} 0",
		"emfa_sync_source_paused{source=okta} 1",
		"emfa_sync_source_paused{source=propagate:duo} 0",
	}
	if got := gather(t, m); !slices.Equal(got, want) {
		t.Errorf("scrape:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Within the TTL the counts are the last read's; the age grows with the clock.
	stats = nil
	clock.Add(5 * time.Second)
	if got := gather(t, m); !slices.Contains(got, "emfa_sync_oldest_pending_seconds{source=okta} 95") || !slices.Contains(got, "emfa_sync_events{source=okta,state=pending} 3") {
		t.Errorf("scrape within the TTL:\n%s", strings.Join(got, "\n"))
	}
	clock.Add(DefaultSyncStatsTTL)
	want = []string{
		"emfa_sync_events{source=okta,state=dead} 0",
		"emfa_sync_events{source=okta,state=pending} 0",
		"emfa_sync_events{source=propagate:duo,state=dead} 0",
		"emfa_sync_events{source=propagate:duo,state=pending} 0",
		"emfa_sync_oldest_pending_seconds{source=okta} 0",
		"emfa_sync_oldest_pending_seconds{source=propagate:duo} 0",
		"emfa_sync_source_paused{source=okta} 0",
		"emfa_sync_source_paused{source=propagate:duo} 0",
	}
	if got := gather(t, m); !slices.Equal(got, want) {
		t.Errorf("scrape once all is done:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSyncGaugesReadOncePerTTL: concurrent scrapes, a storm of them, read the store once
// per TTL; a read that fails is not retried by every scrape either, shows no gauge, and is
// counted as a store error.
func TestSyncGaugesReadOncePerTTL(t *testing.T) {
	clock := newClock()
	m := NewMetrics("test")
	var reads atomic.Int32
	var fail atomic.Bool
	m.WatchSync(SyncWatch{Now: clock.Now, TTL: time.Minute, Read: func(ctx context.Context) ([]SyncSourceStats, error) {
		reads.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("a read without a deadline")
		}
		if fail.Load() {
			return nil, errors.New("connection refused")
		}
		return []SyncSourceStats{{Source: "scim", Pending: 1, OldestPending: clock.Now()}}, nil
	}})
	storm := func() {
		var wg gosync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := m.Registry().Gather(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	storm()
	if n := reads.Load(); n != 1 {
		t.Fatalf("20 scrapes read the store %d times, want once", n)
	}
	clock.Add(59 * time.Second)
	storm()
	if n := reads.Load(); n != 1 {
		t.Fatalf("scrapes within the TTL read the store again (%d reads)", n)
	}
	clock.Add(time.Second)
	fail.Store(true)
	storm()
	if n := reads.Load(); n != 2 {
		t.Fatalf("%d reads after the TTL, want 2", n)
	}
	got := gather(t, m)
	if want := []string{`emfa_store_errors_total{operation=sync_stats} 1`}; !slices.Equal(got, want) {
		t.Errorf("scrape after a failed read:\n%s\nwant %q", strings.Join(got, "\n"), want)
	}
	fail.Store(false)
	clock.Add(time.Minute)
	if got := gather(t, m); !slices.Contains(got, "emfa_sync_events{source=scim,state=pending} 1") || reads.Load() != 3 {
		t.Errorf("scrape after the store came back (%d reads):\n%s", reads.Load(), strings.Join(got, "\n"))
	}
}

// TestSyncWithoutWatch: metrics of a server without directory sync have no sync gauge,
// and a nil *Metrics takes the calls.
func TestSyncWithoutWatch(t *testing.T) {
	if got := gather(t, NewMetrics("test")); len(got) != 0 {
		t.Errorf("sync series without a watch: %q", got)
	}
	var m *Metrics
	m.WatchSync(SyncWatch{})
	m.SyncFinished("okta", SyncApplied)
}
