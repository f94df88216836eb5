package transform

import (
	"fmt"
	"strings"
	"testing"
)

// The encoders extension, pinned at version 0, declares base64.decode and base64.encode
// without the cost models its version 1 brings, so each was estimated and charged one unit
// whatever the length of the text it decodes or encodes (and allocates): ten decodes of
// 4,096-character input strings once per element of a 4,096-element list were estimated
// within the cost limit at that size, and the untracked path decoded 170 MB. They are
// estimated and charged by the length of their argument (TestBase64ExtensionChargedItsWork).
func TestBase64ExtensionChargedItsScan(t *testing.T) {
	env := testEnv(t)
	m := map[string]any{}
	var decodes, encodes []string
	for i := range 10 {
		m[fmt.Sprint("s", i)] = strings.Repeat("QUJD", 1024)
		decodes = append(decodes, fmt.Sprintf("size(base64.decode(m.s%d))", i))
		encodes = append(encodes, fmt.Sprintf("base64.encode(base64.decode(m.s%d))", i))
	}
	l := make([]any, 4096)
	for i := range l {
		l[i] = int64(i)
	}
	m["l"] = l
	for _, src := range []string{
		"m.l.map(x, " + strings.Join(decodes, " + ") + ")",
		// Their encodings again (the table below has encode alone).
		"m.l.map(x, [" + strings.Join(encodes, ", ") + "]).size()",
	} {
		wantCostLimit(t, env, src, Vars{"m": m})
	}
	vars := Vars{"m": m, "s": m["s0"]}
	for _, c := range []struct {
		src, arg string
		cost     uint64
		perChar  float64
	}{
		{`base64.decode(s)`, `s`, 1 + 820, 0.2},
		{`base64.encode(bytes(s))`, `bytes(s)`, 1 + 1639, 0.4},
	} {
		got, est := callCost(t, env, c.src, c.arg, vars)
		if got != c.cost {
			t.Errorf("%s: tracked cost %d, want %d", c.src, got, c.cost)
		}
		if want := 1 + uint64(c.perChar*DefaultInputSizeHint); est < want {
			t.Errorf("%s: estimate %d, want at least %d for the size hint's %d characters", c.src, est, want, DefaultInputSizeHint)
		}
	}
}

// base64.decode decodes some 1.3 ns a character and base64.encode encodes some 2.8 ns a byte,
// allocating its encoding zeroed and copying it into a string, where CEL charged a scan's
// 0.1 unit (BenchmarkChargedCost: 13 and 28 ns a unit, where a string's size or a comparison
// takes 6 to 7 on the same machine at the same time). base64.decode is charged 0.2 units a
// character and base64.encode 0.4 a byte.
func TestBase64ExtensionChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("QUJD")
	wantCostLimit(t, env, `m.l.map(x, [`+strings.Repeat(`base64.decode(m.s), `, 12)+`])`, vars)
	wantCostLimit(t, env, `m.l.map(x, [`+strings.Repeat(`base64.encode(bytes(m.s)), `, 6)+`])`, vars)
}
