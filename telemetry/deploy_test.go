package telemetry

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The dashboard and the alerting rules in deploy/ name only metrics emfa exports, so a
// renamed metric cannot leave a silent panel or an alert that never fires.
func TestDeployNamesExportedMetrics(t *testing.T) {
	exported := gatherAll(t).types // every family, each vector with a child
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
			if _, ok := exported[base]; !ok && !strings.HasPrefix(n, "emfa_overview") {
				t.Errorf("%s names %s, which emfa does not export", file, n)
			}
		}
	}
}
