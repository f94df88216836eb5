package transform

import (
	"fmt"
	"strings"
	"testing"
)

// size of a string counts its code points, a scan of the whole string, which cel-go charged and
// estimated one unit: a transform taking the size of ten 4,096-character strings of the input
// once per element of a 4,096-element list was estimated within the cost limit at that size,
// so the untracked path took it, and scanned 170 MB (17 times what the limit allows, as the
// tracked program, which charges a call on the input by its strings, found). size of a string
// is now estimated and charged as a scan of it, a tenth of a unit a character; of a list, a
// map or bytes, which it reads without a scan, one unit as before.
func TestStringSizeChargedItsScan(t *testing.T) {
	env := testEnv(t)
	m := map[string]any{}
	var terms []string
	for i := range 10 {
		m[fmt.Sprint("s", i)] = strings.Repeat("e", 4096)
		terms = append(terms, fmt.Sprintf("size(m.s%d)", i))
	}
	l := make([]any, 4096)
	for i := range l {
		l[i] = int64(i)
	}
	m["l"] = l
	for _, src := range []string{
		"m.l.map(x, " + strings.Join(terms, " + ") + ")",
		"m.l.map(x, " + strings.Join(terms, " + ") + " + size(s))",
	} {
		wantCostLimit(t, env, src, Vars{"m": m, "s": m["s0"]})
	}
	// Typed or not, a string's size is charged its scan; a list's, a map's and bytes' one unit.
	vars := Vars{"m": m, "s": m["s0"]}
	for _, c := range []struct {
		src, arg string
		cost     uint64
	}{
		{`size(s)`, `s`, 1 + 410},
		{`s.size()`, `s`, 1 + 410},
		{`size(m.s0)`, `m.s0`, 410}, // a call on the input: its text alone (dynamicCalls)
		{`size(m.l)`, `m.l`, 1},
		{`size(m)`, `m`, 1},
		{`size(bytes(s))`, `bytes(s)`, 1},
	} {
		got, est := callCost(t, env, c.src, c.arg, vars)
		if got != c.cost {
			t.Errorf("%s: tracked cost %d, want %d", c.src, got, c.cost)
		}
		if c.cost > 1 && est < 1+10 {
			t.Errorf("%s: estimate %d, want at least a scan of the size hint's 100 characters", c.src, est)
		}
	}
}
