package transform

import (
	"fmt"
	"reflect"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/google/go-cmp/cmp"
)

// The untracked program builds small literals its own way (literal.go): every use of them must
// give what CEL's own lists and maps, built by the tracked program, give.
func TestSmallLiteralsMatchCEL(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{"s": "x", "d": map[string]any{"n": int64(1)}, "m": map[string]any{"k": "v"}, "header": nil, "now": fixedNow}
	exprs := []string{
		`[s, s + "y"]`, `[s][0]`, `[s][1]`, `[s][-1]`, `[s][dyn(0u)]`, `[s][dyn(0.0)]`, `[s][dyn("0")]`,
		`s in [s, "y"]`, `"z" in [s]`, `[s] == [s]`, `[s] == ["z"]`, `["x"] == [s]`, `[s] + [s]`, `[s] + []`,
		`[s, 1].map(x, x)`, `size([s, s])`, `[s].exists(x, x == s)`, `[[s], [s, s]].flatten()`, `[s, "a"].sort()`,
		`type([s]) == list`, `dyn([s]) == dyn([s])`, `[s, d.n, 1.5, true, null, b"b"]`, `[d.missing]`, `[s, d.missing]`,
		`joinStrings([s, s], "-")`, `header.put("a", [s, s])`, `header.put("a", [s]).a`, `[s].reverse()`,
		`{"a": s, "b": 1}`, `{"a": s}.a`, `{"a": s}["b"]`, `has({"a": s}.a)`, `has({"a": s}.b)`, `"a" in {"a": s}`,
		`"b" in {"a": s}`, `{"a": s}[dyn(1)]`, `{"a": s} == {"a": "x"}`, `{"a": "x"} == {"a": s}`, `{"a": s} == {"a": s, "b": 1}`,
		`{"a": s}.map(k, k)`, `size({"a": s, "b": s})`, `{"a": s, "b": 1}.all(k, k != "c")`, `{"a": s}.put("b", 1)`,
		`{"a": s}.put("a", 1)`, `{"a": 1}.putAll({"a": s})`, `m.putAll({"a": s})`, `jsonToFormURLEncoded({"x": s, "y": [s, 1]}, true)`,
		`{"a": d.missing}`, `{"a": s, "b": d.missing}`, `{"a": [s]}`, `{"a": {"b": s}}.a.b`, `{s: 1}`, `type({"a": s}) == map`,
		`dyn({"a": s}) == dyn({"a": s})`, `[{"a": s}] == [{"a": s}]`, `{"a": s} in [{"a": s}]`, `{"a": s, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7}`,
		`[s, 2, 3, 4, 5, 6, 7]`, `{"k": [s]}.k[0]`, `header.putAll({"a": s})`,
		`[1, 2, 3].map(x, [x, s])`, `[1, 2, 3].filter(x, x > 1)`, `[1, 2, 3].map(x, x / (x - 2))`,
		`[[1], [2, 3]].map(l, l.map(x, {"v": x, "s": s})).flatten()`, `{"a": 1, "b": 2}.map(k, k + s).sort()`,
		`[1, 2].map(x, [d.missing])`, `m.put("a", d.missing)`, `m.put(d.missing, 1)`, `d.put("a", 1)`, `dyn(s).put("a", 1)`,
		`{"a": 1}.put(dyn(1.5), 2)`, `header.put("a", 1)`, `header.put("a", [s]).put("A", s)`, `m.put("k", s).k`, `[1, 2, 3].exists(x, x == 2)`, `[s, s].map(x, x).filter(x, x == s)`,
	}
	for _, expr := range exprs {
		t.Run(expr, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(env, `{"v": `+expr+`}`)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			u := p.untrackedProgram()
			if u.prg == nil {
				t.Fatal("no untracked program")
			}
			act, _, err := p.activation(vars)
			if err != nil {
				t.Fatal(err)
			}
			tracked, _, terr := p.prg.Eval(act.act)
			small, _, serr := u.prg.Eval(act.act)
			if fmt.Sprint(terr) != fmt.Sprint(serr) {
				t.Fatalf("errors differ: tracked %v, untracked %v", terr, serr)
			}
			if terr != nil {
				return
			}
			want, werr := toJSON(tracked)
			got, gerr := toJSON(small)
			if fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Fatalf("conversion errors differ: tracked %v, untracked %v", werr, gerr)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-tracked +untracked):\n%s", diff)
			}
			v := func(res ref.Val) any { return res.(traits.Mapper).Get(types.String("v")).Value() }
			if wv, gv := v(tracked), v(small); reflect.TypeOf(wv) != reflect.TypeOf(gv) {
				t.Errorf("Value() of v: tracked %T, untracked %T", wv, gv)
			}
		})
	}
}

// The untracked program does build its own literals, where they apply.
func TestSmallLiteralsUsed(t *testing.T) {
	t.Parallel()
	p, err := Compile(testEnv(t), `{"l": [s], "m": {"a": s}, "h": header.put("a", s).a}`)
	if err != nil {
		t.Fatal(err)
	}
	act, _, err := p.activation(Vars{"s": "x", "header": nil, "now": fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := p.untrackedProgram().prg.Eval(act.act)
	if err != nil {
		t.Fatal(err)
	}
	m := res.(*record)
	for key, want := range map[string]string{"l": "*transform.smallList", "m": "*transform.record", "h": "*transform.smallList"} {
		if got := fmt.Sprintf("%T", m.Get(types.String(key))); got != want {
			t.Errorf("%s is %s, want %s", key, got, want)
		}
	}
}
