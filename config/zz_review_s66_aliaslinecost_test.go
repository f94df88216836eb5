package config

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestReviewS66AliasLineParsesAFewTimes: a value that starts with * and names no anchor
// is located by parsing the file again with each place *NAME is written tried alone; a
// file where it is written 64 times (a comment above each section, a list of aliases)
// was parsed 64 times over, for a file near Load's 16 MiB bound a minute of emfa check.
// The places are now halved at each parse: a few parses, whatever their number, and the
// line is still the alias's own.
func TestReviewS66AliasLineParsesAFewTimes(t *testing.T) {
	doc := func(places, keys int) ([]byte, int) {
		var b strings.Builder
		for i := range places {
			b.WriteString("# section " + strconv.Itoa(i) + " once took *pw from its anchor\n")
			b.WriteString("s" + strconv.Itoa(i) + ":\n")
			for j := range keys {
				b.WriteString("  k" + strconv.Itoa(j) + ": [a, b, c, d, e, f]\n")
			}
		}
		b.WriteString("last: *pw\n")
		return []byte(b.String()), strings.Count(b.String(), "\n")
	}
	data, want := doc(63, 60)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if yaml.Unmarshal(data, &yaml.Node{}) == nil {
		t.Fatal("the document parses")
	}
	runtime.ReadMemStats(&after)
	one := after.TotalAlloc - before.TotalAlloc

	runtime.GC()
	runtime.ReadMemStats(&before)
	got := aliasLine(data, "pw")
	runtime.ReadMemStats(&after)
	if got != want {
		t.Errorf("aliasLine = %d, want %d (the alias's own line)", got, want)
	}
	cost := after.TotalAlloc - before.TotalAlloc
	t.Logf("aliasLine: %.1f parses' allocation", float64(cost)/float64(one))
	if !raceEnabled && cost > 12*one {
		t.Errorf("aliasLine allocated %d MB, %.0f parses of the file (64 places *pw is written)", cost>>20, float64(cost)/float64(one))
	}

	// Beyond 64 places (the places tried before), the alias's line, not the first tried.
	data, want = doc(300, 1)
	if got := aliasLine(data, "pw"); got != want {
		t.Errorf("301 places: aliasLine = %d, want %d", got, want)
	}
	// Past the places it tries, no line rather than a wrong one: the places not tried
	// were left as written, and the first tried, in a comment, was named.
	data, want = doc(maxAliasTries+10, 1)
	if got := aliasLine(data, "pw"); got != 0 && got != want {
		t.Errorf("%d places: aliasLine = %d, want %d or none", maxAliasTries+11, got, want)
	}
}
