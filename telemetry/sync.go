package telemetry

import (
	"context"
	gosync "sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SyncSourceStats is what the metrics show of one source of directory sync's queue (a
// source, or the propagations to a vendor as propagate:PREFIX): its pending and dead
// events, when the oldest pending one was queued, and whether it is paused.
type SyncSourceStats struct {
	Source        string
	Pending, Dead int
	OldestPending time.Time // the zero time when none is pending
	Paused        bool
}

// SyncWatch is how the metrics read the queue's state on a scrape.
type SyncWatch struct {
	// Read reads every source's stats, in one query of the store.
	Read func(ctx context.Context) ([]SyncSourceStats, error)
	// TTL: a scrape within TTL of the last read shows that read's counts (default
	// DefaultSyncStatsTTL), so that a scrape storm, or many Prometheus servers, do not
	// query the store more than once a TTL. The oldest pending event's age is computed on
	// every scrape.
	TTL time.Duration
	// Timeout bounds a read (default 5 s): a scrape is not held by a store that hangs.
	Timeout time.Duration
	Now     func() time.Time // default time.Now
}

// DefaultSyncStatsTTL is how long a read of the queue's state serves scrapes.
const DefaultSyncStatsTTL = 10 * time.Second

// Outcomes of SyncFinished.
const (
	SyncApplied    = "applied"    // in emfa's store
	SyncPropagated = "propagated" // carried to a vendor
	SyncSkipped    = "skipped"    // done without being applied or carried (older than a change applied since, refused)
	SyncRetry      = "retry"      // an attempt failed; the event waits its backoff
	SyncDead       = "dead"       // dead-lettered
)

// syncCollector is the queue's gauges, read on a scrape (at most once a TTL) in one
// query. Their source labels are the queue's sources, a set the configuration bounds
// (the sync sources and the propagation targets), never a user.
type syncCollector struct {
	m  *Metrics
	mu gosync.Mutex
	w  SyncWatch
	// What the last read said (nil after a failed one), and when it was made.
	last   []SyncSourceStats
	readAt time.Time
	read   bool // a read was made
	ok     bool // and it succeeded
	// seen are the sources a read ever showed: a source whose events are all done shows
	// zeros rather than no series at all.
	seen map[string]bool

	events, oldest, paused *prometheus.Desc
}

func newSyncCollector(m *Metrics) *syncCollector {
	return &syncCollector{m: m, seen: map[string]bool{},
		events: prometheus.NewDesc("emfa_sync_events", "Directory sync's queued events by source (propagate:PREFIX: the propagations to a provider's vendor) and state (pending, dead). Read from the store at most once per 10 s (one query).", []string{"source", "state"}, nil),
		oldest: prometheus.NewDesc("emfa_sync_oldest_pending_seconds", "Age of a source's oldest pending event, since it was queued (0: none is pending).", []string{"source"}, nil),
		paused: prometheus.NewDesc("emfa_sync_source_paused", "1 when the deletion guard paused the source (emfa sync resume SOURCE lifts it).", []string{"source"}, nil),
	}
}

func (c *syncCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.oldest
	ch <- c.paused
}

func (c *syncCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w.Read == nil {
		return
	}
	now := c.w.Now()
	if !c.read || now.Sub(c.readAt) >= c.w.TTL || now.Before(c.readAt) {
		ctx, cancel := context.WithTimeout(context.Background(), c.w.Timeout)
		st, err := c.w.Read(ctx)
		cancel()
		// A failure is kept for the TTL too: a store that is down is not asked again by
		// every scrape. Meanwhile the gauges are absent, and emfa_store_errors_total
		// {operation="sync_stats"} says why.
		c.read, c.readAt, c.ok, c.last = true, now, err == nil, st
		if err != nil {
			c.last = nil
			c.m.StoreError("sync_stats")
		}
		for _, s := range c.last {
			c.seen[s.Source] = true
		}
	}
	if !c.ok {
		return
	}
	by := map[string]SyncSourceStats{}
	for _, s := range c.last {
		by[s.Source] = s
	}
	for source := range c.seen {
		s := by[source]
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(s.Pending), source, "pending")
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(s.Dead), source, "dead")
		age := 0.0
		if s.Pending > 0 && !s.OldestPending.IsZero() {
			age = max(now.Sub(s.OldestPending).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, source)
		p := 0.0
		if s.Paused {
			p = 1
		}
		ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, p, source)
	}
}

// WatchSync makes every scrape show the sync queue's state as w reads it: events by
// source and state, the oldest pending event's age, the paused sources. Called again, it
// replaces w (a test's second server on the same metrics); a nil *Metrics records nothing.
func (m *Metrics) WatchSync(w SyncWatch) {
	if m == nil {
		return
	}
	if w.TTL <= 0 {
		w.TTL = DefaultSyncStatsTTL
	}
	if w.Timeout <= 0 {
		w.Timeout = 5 * time.Second
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	c := m.sync
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w, c.last, c.read, c.ok, c.readAt = w, nil, false, false, time.Time{}
}

// SyncReceived counts n events a posting source delivered, by outcome (queued,
// duplicate, ignored, refused): adapter.SyncObserver.
func (m *Metrics) SyncReceived(source, outcome string, n int) {
	if m != nil {
		m.syncReceived.WithLabelValues(source, outcome).Add(float64(n))
	}
}

// SyncFinished counts an attempt of the sync worker on an event of source, by outcome
// (SyncApplied, SyncPropagated, SyncSkipped, SyncRetry, SyncDead).
func (m *Metrics) SyncFinished(source, outcome string) {
	if m != nil {
		m.syncFinished.WithLabelValues(source, outcome).Inc()
	}
}
