package telemetry

import (
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// parkedCollector reports each listener's parked keep-alive connections (internal/connpark)
// as a scrape reads them.
type parkedCollector struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	read map[string]func() int // by listener
}

func newParkedCollector() *parkedCollector {
	return &parkedCollector{
		desc: prometheus.NewDesc("emfa_http_connections_parked",
			"Idle keep-alive connections waiting for their next request without a goroutine or buffers of their own, by listener (server, admin).",
			[]string{"listener"}, nil),
		read: map[string]func() int{},
	}
}

func (c *parkedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *parkedCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	read := maps.Clone(c.read)
	c.mu.Unlock()
	for listener, n := range read {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n()), listener)
	}
}

// WatchParked makes every scrape show how many of listener's connections are parked, as
// parked counts them. Called again for a listener, it replaces parked (a reload's or a
// test's second server); a nil *Metrics records nothing.
func (m *Metrics) WatchParked(listener string, parked func() int) {
	if m == nil {
		return
	}
	m.parked.mu.Lock()
	defer m.parked.mu.Unlock()
	m.parked.read[listener] = parked
}
