package transform

import (
	"context"
	"errors"
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
		p, err := Compile(env, `{"v": `+src+`}`)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Eval(context.Background(), Vars{"m": m, "s": m["s0"]})
		if !errors.Is(err, ErrCostLimit) {
			t.Errorf("%s: %v, want the cost limit's error", src, err)
		}
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
		p, err := Compile(env, `{"v": `+c.src+`}`)
		if err != nil {
			t.Fatal(err)
		}
		arg, err := Compile(env, `{"v": `+c.arg+`}`)
		if err != nil {
			t.Fatal(err)
		}
		if got, base := trackedCost(t, p, vars), trackedCost(t, arg, vars); got-base != c.cost {
			t.Errorf("%s: tracked cost %d, want %d", c.src, got-base, c.cost)
		}
		_, est := p.CostEstimate()
		_, base := arg.CostEstimate()
		if c.cost > 1 && est-base < 1+10 {
			t.Errorf("%s: estimate %d, want at least a scan of the size hint's 100 characters", c.src, est-base)
		}
	}
}

// trackedCost is the cost p's tracked program is charged for evaluating vars.
func trackedCost(t testing.TB, p *Program, vars Vars) uint64 {
	t.Helper()
	st, _, err := p.activation(vars)
	if err != nil {
		t.Fatal(err)
	}
	defer st.release()
	_, det, err := p.prg.Eval(st.act)
	if err != nil {
		t.Fatal(err)
	}
	return *det.ActualCost()
}
