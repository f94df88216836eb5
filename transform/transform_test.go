package transform

import (
	"context"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/google/go-cmp/cmp"
)

// A small Go map converted to CEL in one allocation (smallMap) behaves as the CEL map it
// stands for, in the tracked and the untracked program alike.
func TestSmallMapAsCELMap(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	goMap := map[string]any{"a": "x", "n": int64(2), "l": []any{"p", "q"}, "o": map[string]any{"k": "v"}}
	small, _ := toCEL(goMap)
	if _, ok := small.(*smallMap); !ok {
		t.Fatalf("toCEL gave %T, want *smallMap", small)
	}
	celMap := small.(*smallMap).flat()
	exprs := []string{
		`d`, `d.a`, `d.o.k`, `has(d.z)`, `has(d.a)`, `"a" in d`, `1 in d`, `size(d)`, `d.z`, `d[1]`, `d["z"]`,
		`d == {"a": "x", "n": 2, "l": ["p", "q"], "o": {"k": "v"}}`, `{"a": "x", "n": 2, "l": ["p", "q"], "o": {"k": "v"}} == d`,
		`d == d`, `d != {"a": "x"}`, `d.map(k, k).sort()`, `d.all(k, k != "")`, `d.exists(k, d[k] == 2)`,
		`d.filter(k, k > "f").size()`, `type(d) == map`, `d.put("b", 1)`, `d.putAll({"a": "y"})`,
		`jsonToFormURLEncoded(d.o, true)`, `jsonToFormURLEncoded({"a": d.a, "n": d.n}, false)`,
		`dyn(d).o.k`, `[d][0].a`, `{"x": d}.x.n + 1`, `m.putAll(d)`,
	}
	for _, expr := range exprs {
		sameOverEither(t, env, expr, func(d ref.Val) map[string]any {
			return map[string]any{"d": d, "m": types.NewMap(types.DefaultTypeAdapter, map[string]ref.Val{})}
		}, celMap, small, "as a CEL map", "as a smallMap")
	}
}

// A header map of a few entries, its base a record in the header map's allocation, behaves as
// the header map over a CEL map it replaces.
func TestSmallHeaderAsCELMap(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	h := map[string][]string{"Accept": {"application/json"}, "X-Two": {"a", "b"}, "Empty": nil}
	small, _ := headerToCEL(h)
	if _, ok := small.(*headerMap).base.(*record); !ok {
		t.Fatalf("headerToCEL's base is %T, want *record", small.(*headerMap).base)
	}
	m := make(map[ref.Val]ref.Val, len(h))
	for k, vs := range h {
		m[types.String(k)] = types.NewStringList(types.DefaultTypeAdapter, vs)
	}
	celMap := newHeaderMap(types.NewRefValMap(types.DefaultTypeAdapter, m))
	exprs := []string{
		`header`, `header.Accept`, `header["X-Two"]`, `header.accept`, `dyn(header)[1]`, `has(header.Accept)`, `"Empty" in header`,
		`size(header)`, `header.put("accept", "text/plain")`, `header.put("X-New", ["1", "2"]).put("x-two", "c")`,
		`header.putAll({"ACCEPT": "x", "b": ["y"]})`, `header.put("a", "b").Accept`, `header.map(k, k).sort()`,
		`header == {"Accept": ["application/json"], "X-Two": ["a", "b"], "Empty": []}`,
		`{"Accept": ["application/json"], "X-Two": ["a", "b"], "Empty": []} == header`, `header.all(k, size(header[k]) < 3)`,
		`header.put("accept", "x") == header`, `size(header.put("ACCEPT", "y"))`,
	}
	for _, expr := range exprs {
		sameOverEither(t, env, expr, func(h ref.Val) map[string]any { return map[string]any{"header": h} },
			celMap, small, "over a CEL map", "over a record")
	}
}

// sameOverEither evaluates {"v": expr}, in the tracked and the untracked program, over the
// variables vars makes of want and of got, and fails t when the results or errors differ;
// wantName and gotName say what each is.
func sameOverEither(t *testing.T, env *Env, expr string, vars func(ref.Val) map[string]any, want, got ref.Val, wantName, gotName string) {
	t.Helper()
	p, err := Compile(env, `{"v": `+expr+`}`)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	run := func(v ref.Val, tracked bool) (any, string) {
		prg := p.prg
		if !tracked {
			if prg = p.untrackedProgram().prg; prg == nil {
				prg = p.prg // the estimate bounds no input: only the tracked program
			}
		}
		val, _, err := prg.Eval(vars(v))
		if err != nil {
			return nil, p.evalError(err).Error()
		}
		out, err := toJSON(val)
		if err != nil {
			return nil, err.Error()
		}
		return out, ""
	}
	for _, tracked := range []bool{true, false} {
		w, wErr := run(want, tracked)
		g, gErr := run(got, tracked)
		if diff := cmp.Diff(w, g); diff != "" || wErr != gErr {
			t.Errorf("%s (tracked %v): %s %v %q, %s %v %q (-want +got):\n%s", expr, tracked, wantName, w, wErr, gotName, g, gErr, diff)
		}
	}
}

// A result's short lists, which share one block, are independent: each has no room beyond
// its elements, so appending to one never writes into another.
func TestResultListsIndependent(t *testing.T) {
	t.Parallel()
	p, err := Compile(testEnv(t), `{"a": [s], "b": [s, s + "2"], "c": [[s], [s, s], []], "d": [s, s, s, s, s]}`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Eval(context.Background(), Vars{"s": "x", "now": fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": []any{"x"}, "b": []any{"x", "x2"}, "c": []any{[]any{"x"}, []any{"x", "x"}, []any{}},
		"d": []any{"x", "x", "x", "x", "x"}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	var lists [][]any
	var walk func(v any)
	walk = func(v any) {
		if l, ok := v.([]any); ok {
			lists = append(lists, l)
			for _, e := range l {
				walk(e)
			}
		}
	}
	for _, v := range out {
		walk(v)
	}
	for _, l := range lists {
		if cap(l) != len(l) {
			t.Errorf("list %v has capacity %d, want %d", l, cap(l), len(l))
		}
		_ = append(l, "overwrite")
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("after appending to each list (-want +got):\n%s", diff)
	}
}
