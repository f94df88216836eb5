package telemetry

import (
	"strings"
	"testing"
)

// TestAlertedCountersStartAtZero: deploy/prometheus/alerts.yml pages on
// increase(emfa_store_errors_total[5m]) > 0 and warns on
// increase(emfa_config_reloads_total{result="error"}[15m]) > 0. A counter child that
// appears only at its first increment is first scraped at 1, and increase() over a series
// whose first sample is 1 is 0: the first store error of each operation, and the first
// failed reload, of a process — after which an operator usually fixes the file, so the only
// one — never fired. Prometheus's advice is to export such series at zero from the start.
func TestAlertedCountersStartAtZero(t *testing.T) {
	m := NewMetrics("test")
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var ls []string
			for _, l := range s.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			have[f.GetName()+"{"+strings.Join(ls, ",")+"}"] = s.GetCounter() != nil && s.GetCounter().GetValue() == 0
		}
	}
	for _, want := range []string{
		"emfa_config_reloads_total{result=error}",
		"emfa_config_reloads_total{result=ok}",
		"emfa_store_errors_total{operation=contract}",
		"emfa_store_errors_total{operation=idempotency}",
		"emfa_store_errors_total{operation=audit}",
		"emfa_store_errors_total{operation=sync_stats}",
	} {
		if !have[want] {
			t.Errorf("%s is not exported at 0 before its first event", want)
		}
	}
}
