package telemetry

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadmeMetricTable: README's Metrics table lists every emfa_* family emfa
// exports, and no other, each with exactly the labels it has: the operator writes queries
// from that table.
func TestReadmeMetricTable(t *testing.T) {
	e := gatherAll(t)
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
	start := strings.Index(section, "\n### Metrics\n")
	if start < 0 {
		t.Fatal("README has no Metrics section")
	}
	section = section[start+1:]
	if end := strings.Index(section, "\n### "); end >= 0 {
		section = section[:end]
	}
	name := regexp.MustCompile("`(emfa_[a-z0-9_]+)`")
	label := regexp.MustCompile("`([a-z_][a-z0-9_]*)`")
	listed := map[string]bool{}
	for line := range strings.Lines(section) {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `emfa_") || len(cells) < 2 {
			continue
		}
		// The labels are the cell's backquoted words outside parentheses (inside: values).
		var top strings.Builder
		depth := 0
		for _, r := range cells[1] {
			switch {
			case r == '(':
				depth++
			case r == ')':
				depth--
			case depth == 0:
				top.WriteRune(r)
			}
		}
		var labels []string
		for _, m := range label.FindAllStringSubmatch(top.String(), -1) {
			labels = append(labels, m[1])
		}
		slices.Sort(labels)
		for _, m := range name.FindAllStringSubmatch(cells[0], -1) {
			n := m[1]
			listed[n] = true
			ls, ok := e.labels[n]
			if !ok {
				t.Errorf("README lists %s, which emfa does not export", n)
				continue
			}
			if want := slices.Sorted(maps.Keys(ls)); !slices.Equal(labels, want) {
				t.Errorf("README gives %s the labels %v; it has %v", n, labels, want)
			}
		}
	}
	for n := range e.types {
		if strings.HasPrefix(n, "emfa_") && !listed[n] {
			t.Errorf("emfa exports %s, which README's Metrics table does not list", n)
		}
	}
}
