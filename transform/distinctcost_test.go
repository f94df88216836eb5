package transform

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
)

// l.distinct() compares each element with those kept before it, and a comparison of lists or
// maps walks them to the bottom, but the lists extension charges two units a pair whatever
// they hold, on both programs, once the call has returned: 60 lists of 100 lists of the input,
// alike but for their last value, were walked two million values deep for some 7,600 units,
// and 100 such lists took seconds within a cost limit meant to be about 50 ms. distinct is
// refused before it runs when that walk passes the cost limit, charged it when it does not,
// and counted against the untracked program's slack; a list of scalars is charged as before.
func TestDistinctChargedItsWalk(t *testing.T) {
	const hint, limit = 20, 25_000
	env, err := NewEnvWithVariables(map[string]*cel.Type{"m": cel.MapType(cel.StringType, cel.DynType)},
		WithInputSizeHint(hint), WithCostLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	// n lists of 20 lists of w strings (w+step·k in the k-th), alike but for their last.
	lists := func(n, w, step int) []any {
		out := make([]any, n)
		for k := range out {
			l := make([]any, hint)
			w := w + step*k
			for i := range l {
				inner := make([]any, w)
				for j := range inner {
					inner[j] = fmt.Sprint("v", i, "-", j)
				}
				l[i] = inner
			}
			l[hint-1].([]any)[w-1] = fmt.Sprint("last", k)
			out[k] = l
		}
		return out
	}
	reps := make([]any, hint)
	for i := range reps {
		reps[i] = int64(i)
	}
	scalars := make([]any, hint)
	for i := range scalars {
		scalars[i] = fmt.Sprint(i % 7)
	}
	vars := Vars{"m": map[string]any{"reps": reps, "deep": lists(20, 20, 0), "some": lists(8, 10, 1), "scalars": scalars}}
	for _, c := range []struct {
		src  string
		want string // the error's text
	}{
		// 80,000 values walked, past the limit: refused before it runs, and charged.
		{`m.deep.distinct().size()`, ErrCostLimit.Error()},
		// 7,280 values a time, within the limit once, not twenty times.
		{`m.reps.map(x, m.some.distinct().size())`, ErrCostLimit.Error()},
	} {
		p, err := Compile(env, `{"v": `+c.src+`}`)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		wantUntracked(t, p, c.src, limit, hint)
		_, err = p.Eval(context.Background(), vars)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.src, err, c.want)
		}
		// The tracked program, which serves inputs past the untracked path's size, as well.
		st, _, err := p.activation(vars)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = p.prg.Eval(st.act)
		st.release()
		if err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
			t.Errorf("%s: tracked: %v, want %q", c.src, err, c.want)
		}
	}
	// The call itself refuses, before comparing anything, a list whose walk passes the limit.
	deep, _ := toCEL(vars["m"].(map[string]any)["deep"])
	if got := (library{maxString: maxString(limit)}).distinct(deep); !strings.Contains(fmt.Sprint(got), "walks more values than the cost limit allows") {
		t.Errorf("distinct of 80,000 values' walk: %.80v, want its refusal", fmt.Sprint(got))
	}
	// Scalars, and a few small lists, keep their answer and the untracked path; scalars
	// their charge, the lists extension's, and lists theirs plus the walk of their 28 pairs,
	// the smaller of each pair's values (220+20k in the k-th): 7,280.
	for _, c := range []struct {
		src    string
		want   string
		charge uint64
	}{
		{`m.scalars.distinct()`, "[0 1 2 3 4 5 6]", 883},
		{`m.some.distinct().size()`, "8", 179 + 7280},
	} {
		p, err := Compile(env, `{"v": `+c.src+`}`)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		out, err := p.Eval(context.Background(), vars)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := fmt.Sprint(out["v"]); got != c.want {
			t.Errorf("%s: %s, want %s", c.src, got, c.want)
		}
		if retracks(t, p, vars) {
			t.Errorf("%s: left to the tracked program", c.src)
		}
		st, _, err := p.activation(vars)
		if err != nil {
			t.Fatal(err)
		}
		_, det, err := p.prg.Eval(st.act)
		st.release()
		if err != nil {
			t.Fatalf("%s: tracked: %v", c.src, err)
		}
		if got := *det.ActualCost(); got != c.charge {
			t.Errorf("%s: tracked cost %d, want %d", c.src, got, c.charge)
		}
	}
}
