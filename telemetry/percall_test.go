package telemetry

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
)

// TestCachedSeriesAsLabelled: Contract and VendorCall count into the series their
// labels name, exactly as WithLabelValues on every call did: the same families, labels
// and values, and no vendor latency series for a call that sent no request (d 0).
func TestCachedSeriesAsLabelled(t *testing.T) {
	got, want := NewMetrics("test"), NewMetrics("test")
	calls := []struct {
		provider, resource, capability, status string
		d                                      time.Duration
	}{
		{"emfa", "validate", "totp", "SUCCESS", 3 * time.Millisecond},
		{"emfa", "validate", "totp", "SUCCESS", 30 * time.Millisecond},
		{"emfa", "validate", "totp", "FAILED", 2 * time.Millisecond},
		{"acme", "initiate", "sms", "PENDING", time.Second},
		{"acme", "enrollments", "", "ok", 0},
	}
	vendor := []struct {
		provider, resource, outcome string
		d                           time.Duration
	}{
		{"acme", "initiate", "ok", 40 * time.Millisecond},
		{"acme", "initiate", "ok", 4 * time.Second},
		{"acme", "initiate", "timeout", 10 * time.Second},
		{"acme", "validate", "transform_error", 0}, // no latency series
		{"beta", "result", "ok", time.Millisecond},
	}
	for range 3 {
		for _, c := range calls {
			got.Contract(c.provider, c.resource, c.capability, c.status, c.d)
			want.contractCalls.WithLabelValues(c.provider, c.resource, c.capability, c.status).Inc()
			want.contractSeconds.WithLabelValues(c.resource).Observe(c.d.Seconds())
		}
		for _, v := range vendor {
			got.VendorCall(v.provider, v.resource, v.outcome, v.d)
			want.vendorCalls.WithLabelValues(v.provider, v.resource, v.outcome).Inc()
			if v.d > 0 {
				want.vendorSeconds.WithLabelValues(v.provider, v.resource).Observe(v.d.Seconds())
			}
		}
	}
	dump := func(m *Metrics) string {
		families, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, f := range families {
			if strings.HasPrefix(f.GetName(), "emfa_contract_") || strings.HasPrefix(f.GetName(), "emfa_vendor_") {
				for _, s := range f.GetMetric() { // when a series began differs between the two
					if s.Counter != nil {
						s.Counter.CreatedTimestamp = nil
					}
					if s.Histogram != nil {
						s.Histogram.CreatedTimestamp = nil
					}
				}
				b.WriteString(prototext.Format(f))
			}
		}
		return b.String()
	}
	if g, w := dump(got), dump(want); g != w {
		t.Errorf("series differ:\n got %s\nwant %s", g, w)
	}
}

// TestContractObservationAllocs: counting a contract call and a vendor call
// allocates nothing once their series exist.
func TestContractObservationAllocs(t *testing.T) {
	m := NewMetrics("test")
	run := func() {
		m.Contract("emfa", "validate", "totp", "SUCCESS", 3*time.Millisecond)
		m.VendorCall("acme", "initiate", "ok", 40*time.Millisecond)
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 && !raceEnabled {
		t.Errorf("%v allocations a call, want 0", n)
	}
}

// BenchmarkContractParallel is BenchmarkValidateObservations on both cores, with a
// vendor call: what each mediated call pays its metrics.
func BenchmarkContractParallel(b *testing.B) {
	m := NewMetrics("bench")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Contract("emfa", "validate", "totp", "SUCCESS", 3*time.Millisecond)
			m.VendorCall("acme", "validate", "ok", 3*time.Millisecond)
		}
	})
}

// TestSeriesConcurrentFirstUse: label sets seen for the first time on several
// goroutines at once each get their series once, and every call is counted.
func TestSeriesConcurrentFirstUse(t *testing.T) {
	m := NewMetrics("test")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				m.Contract("p", "validate", "totp", fmt.Sprint("s", (g+i)%5), time.Millisecond)
				m.VendorCall("p", fmt.Sprint("r", i%3), "ok", time.Millisecond)
			}
		})
	}
	wg.Wait()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, f := range families {
		if f.GetName() == "emfa_contract_calls_total" {
			for _, s := range f.GetMetric() {
				total += s.GetCounter().GetValue()
			}
		}
	}
	if total != 8*200 {
		t.Errorf("%v contract calls counted, want %d", total, 8*200)
	}
	if n := len(*m.contractSeries.m.Load()); n != 5 {
		t.Errorf("%d contract series cached, want 5", n)
	}
}
