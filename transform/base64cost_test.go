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
// estimated and charged as a scan of their argument, as that version's models have it.
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
	}{
		{`base64.decode(s)`, `s`, 1 + 410},
		{`base64.encode(bytes(s))`, `bytes(s)`, 1 + 410},
	} {
		got, est := callCost(t, env, c.src, c.arg, vars)
		if got != c.cost {
			t.Errorf("%s: tracked cost %d, want %d", c.src, got, c.cost)
		}
		if est < 1+10 {
			t.Errorf("%s: estimate %d, want at least a scan of the size hint's 100 characters", c.src, est)
		}
	}
}
