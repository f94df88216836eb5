package config

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestAliasLineParsesAFewTimes: a value that starts with * and names no anchor
// is located by parsing the file again with the places *NAME is written tried as aliases;
// each place was tried alone, a parse of the file each: a file where it is written 64
// times (a comment above each section) was parsed 64 times over, for a file near Load's
// 16 MiB a minute and more of emfa check. Past the 64th place, the first one tried (a
// comment) was named. It now takes a few parses, whatever the number of places, and the
// line is the alias's own.
func TestAliasLineParsesAFewTimes(t *testing.T) {
	doc := func(places, keys int, tail string) ([]byte, int) {
		var b strings.Builder
		for i := range places {
			b.WriteString("# section " + strconv.Itoa(i) + " once took *pw from its anchor\n")
			b.WriteString("s" + strconv.Itoa(i) + ":\n")
			for j := range keys {
				b.WriteString("  k" + strconv.Itoa(j) + ": [a, b, c, d, e, f]\n")
			}
		}
		b.WriteString("last: *pw\n")
		line := strings.Count(b.String(), "\n")
		b.WriteString(tail)
		return []byte(b.String()), line
	}
	cost := func(data []byte, f func()) float64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc - before.TotalAlloc)
	}
	for _, tc := range []struct {
		name   string
		places int
		keys   int
		tail   string
		parses float64
	}{
		{"64 places, the alias last", 63, 60, "", 3},
		{"2000 places, the alias last", 2000, 1, "", 8},
		{"the alias first, 2000 places after", 0, 0, strings.Repeat("# *pw\nk: [a, b, c, d, e, f]\n", 2000), 0.5},
	} {
		data, want := doc(tc.places, tc.keys, tc.tail)
		whole := bytes.ReplaceAll(data, []byte("*pw"), []byte("xpw"))
		one := cost(data, func() {
			if err := yaml.Unmarshal(whole, &yaml.Node{}); err != nil {
				t.Fatal(err)
			}
		})
		var got int
		parses := cost(data, func() { got = aliasLine(data, "pw") }) / one
		if got != want {
			t.Errorf("%s: aliasLine = %d, want %d (the alias's own line)", tc.name, got, want)
		}
		t.Logf("%s: %.1f parses' allocation", tc.name, parses)
		if !raceEnabled && parses > tc.parses {
			t.Errorf("%s: aliasLine allocated as %.1f parses of the file, want at most %.0f", tc.name, parses, tc.parses)
		}
	}
}

// TestAliasLineNamesTheFirst: of two aliases of no anchor, the line is the
// first's, the one the parser refuses; and an alias the parser read far past (a long
// comment after it) is still found.
func TestAliasLineNamesTheFirst(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      int
	}{
		{"two", "# *pw above\na: *pw\nb: *pw\nc: '*pw'\n", 2},
		{"a long comment after", "# *pw above\na: *pw # " + strings.Repeat("x", 40<<10) + "\nb: 1\n", 2},
		{"a long value after", "# *pw above\na: *pw\nb: \"" + strings.Repeat("*pw ", 10<<10) + "\"\n", 2},
	} {
		if got := aliasLine([]byte(tc.doc), "pw"); got != tc.want {
			t.Errorf("%s: aliasLine = %d, want %d", tc.name, got, tc.want)
		}
	}
}
