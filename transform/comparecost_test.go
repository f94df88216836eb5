package transform

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"cel.dev/cel-go/cel"
)

// A comparison of lists or maps (==, !=, in) walks them to the bottom, which the tracked
// program charges (dynamicCalls) but the static estimate does not: cel-go estimates it by
// the operands' top-level sizes, and nothing bounds how deep an input nests. Within the
// input size the untracked path is chosen for (no list, map or string over it), a list of
// lists compared as often as a comprehension repeats it walked a hundred times the cost
// limit untracked, to a result where the tracked program stops at the limit. The untracked
// program counts what its comparisons walk and leaves an evaluation to the tracked one once
// that could take it past the limit.
func TestAggregateComparisonBoundedUntracked(t *testing.T) {
	const hint, limit = 100, 20_000
	env, err := NewEnvWithVariables(map[string]*cel.Type{"m": cel.MapType(cel.StringType, cel.DynType)},
		WithInputSizeHint(hint), WithCostLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	// 100 lists of 100 strings: 10,100 values, walked to the last by each comparison.
	deep := func(last string) []any {
		l := make([]any, hint)
		for i := range l {
			inner := make([]any, hint)
			for j := range inner {
				inner[j] = fmt.Sprint("v", i, "-", j)
			}
			l[i] = inner
		}
		l[hint-1].([]any)[hint-1] = last
		return l
	}
	reps := make([]any, hint)
	for i := range reps {
		reps[i] = int64(i)
	}
	a, b := deep("a"), deep("b")
	vars := Vars{"m": map[string]any{"reps": reps, "a": a, "a2": deep("a"), "b": b, "bs": []any{b, b}}}
	for _, src := range []string{
		`m.reps.map(x, m.a == m.a2)`,
		`m.reps.map(x, m.a != m.b)`,
		`m.reps.map(x, m.a in m.bs)`,
		`m.reps.filter(x, m.a == m.b).size() == 0 || m.reps.map(y, m.a2 == m.a).all(z, z)`,
	} {
		p, err := Compile(env, `{"v": `+src+`}`)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		wantUntracked(t, p, src, limit, hint)
		out, err := p.Eval(context.Background(), vars)
		if !errors.Is(err, ErrCostLimit) {
			t.Errorf("%s: got a result of %d keys, %v; want the cost limit's error", src, len(out), err)
		}
	}
	// Comparisons of scalars, and of aggregates that walk little, stay untracked and give
	// the tracked program's answer.
	small := Vars{"m": map[string]any{"reps": reps, "a": []any{"x", []any{"y"}}, "a2": []any{"x", []any{"y"}}, "b": "s", "bs": []any{"t", []any{"x", []any{"y"}}}}}
	for _, c := range []struct{ src, want string }{
		{`m.reps.map(x, m.a == m.a2).all(z, z)`, "true"},
		{`m.reps.map(x, m.a != m.b).all(z, z)`, "true"},
		{`m.reps.map(x, m.a in m.bs).all(z, z)`, "true"},
		{`m.reps.map(x, m.b == "s" && m.a != []).all(z, z)`, "true"},
		{`m.reps.map(x, [m.b] == ["s", "t"] || m.b in ["t"]).exists(z, z)`, "false"},
	} {
		p, err := Compile(env, `{"v": `+c.src+`}`)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		out, err := p.Eval(context.Background(), small)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := fmt.Sprint(out["v"]); got != c.want {
			t.Errorf("%s: %s, want %s", c.src, got, c.want)
		}
		if retracks(t, p, small) {
			t.Errorf("%s: left to the tracked program", c.src)
		}
	}
}

// An evaluation's state goes back to the pool without what its comparisons walked: the next
// evaluation to take it starts with nothing walked, and no slack until it is untracked.
func TestEvalStateReleasedWithoutWalk(t *testing.T) {
	st := activations.Get().(*evalState)
	st.walked, st.slack, st.retrack = 10, 20, true
	st.release()
	if st.walked != 0 || st.slack != 0 || st.retrack {
		t.Errorf("released state walked %d, slack %d, retrack %v; want all zero", st.walked, st.slack, st.retrack)
	}
}
