package telemetry

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The dashboard and the alerting rules in deploy/ name only metrics emfa exports, so a
// renamed metric cannot leave a silent panel or an alert that never fires.
func TestDeployNamesExportedMetrics(t *testing.T) {
	m := NewMetrics("test")
	// Every vector gets one child so that Gather lists it.
	m.Contract("p", "validate", "totp", "SUCCESS", 0)
	m.VendorCall("p", "validate", "ok", 1)
	m.CELError("p", "validate", "incoming")
	m.CodeSent("s")
	m.SendRefused("s")
	m.Lockout("p", "totp")
	m.AuthFailure("contract", "unauthorized")
	m.Retry("p", "validate")
	m.StoreError("audit")
	m.Reload(true)
	m.SyncFinished("okta", SyncApplied)
	m.WatchSync(SyncWatch{Read: func(context.Context) ([]SyncSourceStats, error) {
		return []SyncSourceStats{{Source: "okta"}}, nil
	}})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
	}
	name := regexp.MustCompile(`emfa_[a-z_]+`)
	for _, file := range []string{"../deploy/grafana/emfa.json", "../deploy/prometheus/alerts.yml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(data), -1) {
			base := n
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				base = strings.TrimSuffix(base, suffix)
			}
			if !exported[base] && !strings.HasPrefix(n, "emfa_overview") {
				t.Errorf("%s names %s, which emfa does not export", file, n)
			}
		}
	}
}
