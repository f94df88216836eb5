package telemetry

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"
)

// exportedSeries is what a scrape of every metric shows: each family's type, and each
// label's values.
type exportedSeries struct {
	types  map[string]dto.MetricType
	labels map[string]map[string]map[string]bool // family, label, values
}

func gatherAll(t *testing.T) exportedSeries {
	t.Helper()
	m := NewMetrics("test")
	// Every vector gets a child, with the values the deploy files match on.
	m.Contract("p", "validate", "totp", "SUCCESS", time.Millisecond)
	m.VendorCall("p", "validate", "ok", time.Millisecond)
	m.VendorCall("p", "validate", "timeout", time.Millisecond)
	m.CELError("p", "validate", "incoming")
	m.CodeSent("s")
	m.SendRefused("s")
	m.SendFailed("s")
	m.Lockout("p", "totp")
	m.AuthFailure("contract", "unauthorized")
	m.Retry("p", "validate")
	m.StoreError("audit")
	m.Reload(true)
	m.SyncFinished("okta", SyncApplied)
	m.SyncReceived("okta", "refused", 1)
	m.WatchParked("server", func() int { return 0 })
	m.WatchSync(SyncWatch{Read: func(context.Context) ([]SyncSourceStats, error) {
		return []SyncSourceStats{{Source: "okta", Pending: 1, Dead: 1, OldestPending: time.Now(), Paused: true}}, nil
	}})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := exportedSeries{types: map[string]dto.MetricType{}, labels: map[string]map[string]map[string]bool{}}
	for _, f := range families {
		out.types[f.GetName()] = f.GetType()
		ls := map[string]map[string]bool{}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if ls[l.GetName()] == nil {
					ls[l.GetName()] = map[string]bool{}
				}
				ls[l.GetName()][l.GetValue()] = true
			}
		}
		out.labels[f.GetName()] = ls
	}
	return out
}

var (
	promSelector = regexp.MustCompile(`\b(emfa_[a-z0-9_]+)(\{[^}]*\})?`)
	promMatcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	promGrouping = regexp.MustCompile(`\b(by|on|without|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	legendLabel  = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	alertLabel   = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	labelValues  = regexp.MustCompile(`label_values\(\s*(emfa_[a-z0-9_]+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
)

// family is the exported family a series name in PromQL belongs to, with the extra label
// its suffix adds (le for a histogram's _bucket), or "" when there is none: a _bucket,
// _sum or _count is a histogram's only.
func (e exportedSeries) family(name string) (string, []string) {
	if _, ok := e.types[name]; ok {
		return name, nil
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if ok && e.types[base] == dto.MetricType_HISTOGRAM {
			if suffix == "_bucket" {
				return base, []string{"le"}
			}
			return base, nil
		}
	}
	return "", nil
}

// checkExpr checks one PromQL expression and the labels its legend or annotations name:
// every series exists, every matcher names a label of its series (and an equality on a
// fixed value, a value that series takes), and every grouping label and every label shown
// is one each series of the expression has.
func (e exportedSeries) checkExpr(t *testing.T, where, expr string, shown []string) {
	t.Helper()
	common := map[string]int{}
	n := 0
	for _, sel := range promSelector.FindAllStringSubmatch(expr, -1) {
		fam, extra := e.family(sel[1])
		if fam == "" {
			t.Errorf("%s: %s is not an exported series (a _bucket, _sum or _count is a histogram's only)", where, sel[1])
			continue
		}
		n++
		labels := e.labels[fam]
		has := func(l string) bool { return labels[l] != nil || slices.Contains(extra, l) }
		for l := range labels {
			common[l]++
		}
		for _, l := range extra {
			common[l]++
		}
		for _, mt := range promMatcher.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := mt[1], mt[2], mt[3]
			if !has(label) {
				t.Errorf("%s: %s has no label %s", where, sel[1], label)
				continue
			}
			if (op == "=" || op == "!=") && !strings.Contains(value, "$") && labels[label] != nil && !labels[label][value] {
				t.Errorf("%s: %s{%s%s%q}: emfa never exports that value of %s", where, sel[1], label, op, value, label)
			}
		}
	}
	if n == 0 {
		return
	}
	var grouped []string
	for _, g := range promGrouping.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(g[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouped = append(grouped, l)
			}
		}
	}
	for _, l := range grouped {
		if common[l] != n {
			t.Errorf("%s: groups by %s, which not every series of %q has", where, l, expr)
		}
	}
	for _, l := range shown {
		if common[l] != n || len(grouped) > 0 && !slices.Contains(grouped, l) {
			t.Errorf("%s: shows {{%s}}, which %q does not keep", where, l, expr)
		}
	}
}

// TestDeployLabelsExported: the alerting rules and the dashboard name only series
// emfa exports, with their labels — in matchers, groupings, legends and annotations — and
// match on values emfa gives them: a misspelt label or value matches nothing, and the
// alert or panel stays silent rather than failing.
func TestDeployLabelsExported(t *testing.T) {
	e := gatherAll(t)

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	data, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	exprs := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			var shown []string
			for _, a := range r.Annotations {
				for _, m := range alertLabel.FindAllStringSubmatch(a, -1) {
					shown = append(shown, m[1])
				}
			}
			e.checkExpr(t, "alerts.yml "+r.Alert, r.Expr, shown)
			exprs++
		}
	}

	var dash struct {
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr         string `json:"expr"`
				LegendFormat string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
	}
	data, err = os.ReadFile("../deploy/grafana/emfa.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	for _, v := range dash.Templating.List {
		q, _ := v.Query.(string)
		for _, m := range labelValues.FindAllStringSubmatch(q, -1) {
			e.checkExpr(t, "emfa.json variable "+v.Name, m[1], []string{m[2]})
		}
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			var shown []string
			for _, m := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
				shown = append(shown, m[1])
			}
			e.checkExpr(t, "emfa.json panel "+p.Title, tg.Expr, shown)
			exprs++
		}
	}
	if exprs < 20 {
		t.Errorf("only %d expressions read from the deploy files", exprs)
	}
}
