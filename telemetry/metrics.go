// Package telemetry is what an operator watches emfa with: Prometheus metrics (one
// registry per server, never the process-wide default) and OpenTelemetry tracing. The
// packages it observes declare the small interfaces they report to; *Metrics satisfies
// them all, so none of them imports Prometheus.
package telemetry

import (
	"crypto/sha256"
	"crypto/subtle"
	"maps"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds emfa's collectors in a registry of its own. Every label value comes from
// the configuration or from a fixed vocabulary (resources, outcomes, reasons): never a
// user name, a phone number, a factor ID or anything a caller chooses. A nil *Metrics
// records nothing.
type Metrics struct {
	reg *prometheus.Registry

	contractCalls   *prometheus.CounterVec
	contractSeconds *prometheus.HistogramVec
	vendorCalls     *prometheus.CounterVec
	vendorSeconds   *prometheus.HistogramVec
	celErrors       *prometheus.CounterVec
	codesSent       *prometheus.CounterVec
	codesRefused    *prometheus.CounterVec
	codesFailed     *prometheus.CounterVec
	lockouts        *prometheus.CounterVec
	authFailures    *prometheus.CounterVec
	retries         *prometheus.CounterVec
	storeErrors     *prometheus.CounterVec
	reloads         *prometheus.CounterVec
	lastReload      prometheus.Gauge // 1 at start and after a reload that applied, 0 after one that failed
	syncFinished    *prometheus.CounterVec
	syncReceived    *prometheus.CounterVec
	sync            *syncCollector   // sync.go
	parked          *parkedCollector // connections.go

	// The series a contract call and a vendor call count into, by their labels: found
	// once by WithLabelValues (the labels hashed, a map read under a lock), then read
	// from a map that is only ever replaced. Their labels come from the configuration
	// and fixed vocabularies, so the maps stay small.
	contractSeries series[contractLabels, contractSeries]
	vendorCounts   series[vendorLabels, prometheus.Counter]
	vendorLatency  series[vendorLatencyLabels, prometheus.Observer]
}

type contractLabels struct{ provider, resource, capability, status string }

type contractSeries struct {
	calls   prometheus.Counter
	seconds prometheus.Observer
}

type vendorLabels struct{ provider, resource, outcome string }

type vendorLatencyLabels struct{ provider, resource string }

// series is a copy-on-write map of collectors by their labels: a read takes no lock and
// allocates nothing; a label set seen for the first time copies the map.
type series[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

// get is k's value, made by mk the first time k is asked for.
func (s *series[K, V]) get(k K, mk func(K) V) V {
	if m := s.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	m := make(map[K]V, 1+lenOf(old))
	if old != nil {
		maps.Copy(m, *old)
	}
	v := mk(k)
	m[k] = v
	s.m.Store(&m)
	return v
}

func lenOf[K comparable, V any](m *map[K]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// Latency buckets: Verify blocks a login on every call, and its own timeout is about 10 s.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics builds the collectors and registers them, with Go runtime, process and build
// information, in a new registry.
func NewMetrics(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "emfa", Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "emfa", Name: name, Help: help, Buckets: latencyBuckets}, labels)
		m.reg.MustRegister(h)
		return h
	}
	m.contractCalls = counter("contract_calls_total", "Contract calls answered by a provider, by resource, capability and status (SUCCESS, FAILED, PENDING, CANCELED, TIMEOUT; ok: an enrollments call answered; timeout, error: the store failed, answered 503; canceled: the caller gave up).", "provider", "resource", "capability", "status")
	m.contractSeconds = histogram("contract_call_duration_seconds", "Time a provider took to decide a contract call.", "resource")
	m.vendorCalls = counter("vendor_calls_total", "Calls to a remote provider's vendor (contract and lifecycle resources) by outcome: ok, status (unexpected status), timeout, refused, transform_error, error.", "provider", "resource", "outcome")
	m.vendorSeconds = histogram("vendor_call_duration_seconds", "Latency of a vendor's HTTP answer (both attempts when a token is refreshed).", "provider", "resource")
	m.celErrors = counter("cel_errors_total", "CEL transforms that failed or returned an unusable result.", "provider", "resource", "direction")
	m.codesSent = counter("codes_sent_total", "One-time codes handed to a sender, by sender (a name under delivery).", "sender")
	m.codesRefused = counter("codes_refused_total", "Codes not sent because a send limit was reached, by sender.", "sender")
	m.codesFailed = counter("code_sends_failed_total", "Codes a sender failed to send (the vendor refused them, could not be reached or did not answer in time), by sender.", "sender")
	m.lockouts = counter("lockouts_total", "Factors locked after too many failed verifications.", "provider", "capability")
	m.authFailures = counter("auth_failures_total", "Inbound requests refused for their credentials, by API and reason (unauthorized, throttled).", "api", "reason")
	m.retries = counter("idempotent_retries_total", "Retries (X-Webhook-ID) answered from their first attempt's record.", "provider", "resource")
	m.storeErrors = counter("store_errors_total", "Store faults by operation (contract: answered 503; idempotency; audit).", "operation")
	m.reloads = counter("config_reloads_total", "Configuration reloads by result (ok, error).", "result")
	// The series deploy/prometheus/alerts.yml fires on with increase() exist at 0 from
	// the start: one that appeared at its first event would be first scraped at 1, and
	// increase() over it is 0, so the first store error or failed reload went unalerted.
	for _, op := range []string{"contract", "idempotency", "audit", "sync_stats"} {
		m.storeErrors.WithLabelValues(op)
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	// The count alone said that a reload failed, not that the file is still the one
	// refused: an alert on its increase resolved while the next restart would not start.
	m.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "emfa", Name: "config_last_reload_successful",
		Help: "1 when the last configuration reload applied (or none was made since start), 0 when it failed and the previous configuration is still served."})
	m.lastReload.Set(1)
	m.reg.MustRegister(m.lastReload)
	m.syncFinished = counter("sync_events_finished_total", "Attempts of directory sync on a queued event, by source (propagate:PREFIX: propagations to a provider's vendor) and outcome: applied (in emfa's store), propagated (carried to the vendor), skipped (done without either: older than a change applied since, or refused), retry (failed; it waits its backoff), dead (dead-lettered).", "source", "outcome")
	m.syncReceived = counter("sync_events_received_total", "Events the posting sync sources (okta, verify, auth0) delivered, by source and outcome: queued, duplicate (queued before), ignored (a type or result emfa does not act on), refused (could not be read: lost, as the source sends it no more; the log says why).", "source", "outcome")
	m.sync = newSyncCollector(m)
	m.reg.MustRegister(m.sync)
	m.parked = newParkedCollector()
	m.reg.MustRegister(m.parked)
	bi := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "emfa", Name: "build_info", Help: "emfa's version and Go version; always 1."}, []string{"version", "goversion"})
	bi.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(bi, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the collectors are, for a test's or a caller's own gathering.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus' text format. With a token, a scrape must
// send it as a bearer token; it is compared in constant time.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme in any case (RFC 9110 §11.1); a bare token is no bearer token.
		auth := r.Header.Get("Authorization")
		bearer := len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(auth[min(len(auth), 7):])))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !bearer {
			w.Header().Set("WWW-Authenticate", `Bearer realm="emfa metrics"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"unauthorized","message":"a metrics bearer token is required"}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Contract counts one contract call a provider decided and observes how long it took.
func (m *Metrics) Contract(provider, resource, capability, status string, d time.Duration) {
	if m == nil {
		return
	}
	s := m.contractSeries.get(contractLabels{provider, resource, capability, status}, func(l contractLabels) contractSeries {
		return contractSeries{
			calls:   m.contractCalls.WithLabelValues(l.provider, l.resource, l.capability, l.status),
			seconds: m.contractSeconds.WithLabelValues(l.resource),
		}
	})
	s.calls.Inc()
	s.seconds.Observe(d.Seconds())
}

// VendorCall counts one call to a vendor; d is zero when no request left (a transform
// failed first).
func (m *Metrics) VendorCall(provider, resource, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.vendorCounts.get(vendorLabels{provider, resource, outcome}, func(l vendorLabels) prometheus.Counter {
		return m.vendorCalls.WithLabelValues(l.provider, l.resource, l.outcome)
	}).Inc()
	if d > 0 { // its series exists from its first observation only, as before
		m.vendorLatency.get(vendorLatencyLabels{provider, resource}, func(l vendorLatencyLabels) prometheus.Observer {
			return m.vendorSeconds.WithLabelValues(l.provider, l.resource)
		}).Observe(d.Seconds())
	}
}

// CELError counts a transform that failed (direction: outgoing, incoming, or forEach or
// nextPage for a lifecycle step's list and its pages).
func (m *Metrics) CELError(provider, resource, direction string) {
	if m != nil {
		m.celErrors.WithLabelValues(provider, resource, direction).Inc()
	}
}

// CodeSent counts a code a sender accepted.
func (m *Metrics) CodeSent(sender string) {
	if m != nil {
		m.codesSent.WithLabelValues(strings.ToLower(sender)).Inc()
	}
}

// SendRefused counts a code a send limit kept from being sent.
func (m *Metrics) SendRefused(sender string) {
	if m != nil {
		m.codesRefused.WithLabelValues(strings.ToLower(sender)).Inc()
	}
}

// SendFailed counts a code its sender failed to send.
func (m *Metrics) SendFailed(sender string) {
	if m != nil {
		m.codesFailed.WithLabelValues(strings.ToLower(sender)).Inc()
	}
}

// Lockout counts a factor locked by its failures, under capability as configured.
func (m *Metrics) Lockout(provider, capability string) {
	if m != nil {
		m.lockouts.WithLabelValues(provider, capability).Inc()
	}
}

// AuthFailure counts a refused inbound credential.
func (m *Metrics) AuthFailure(api, reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(api, reason).Inc()
	}
}

// Retry counts a retry answered from its record.
func (m *Metrics) Retry(provider, resource string) {
	if m != nil {
		m.retries.WithLabelValues(provider, resource).Inc()
	}
}

// StoreError counts a store fault.
func (m *Metrics) StoreError(operation string) {
	if m != nil {
		m.storeErrors.WithLabelValues(operation).Inc()
	}
}

// Reload counts a configuration reload (ok is false when the old one was kept).
func (m *Metrics) Reload(ok bool) {
	if m == nil {
		return
	}
	result, last := "ok", 1.0
	if !ok {
		result, last = "error", 0
	}
	m.reloads.WithLabelValues(result).Inc()
	m.lastReload.Set(last)
}
