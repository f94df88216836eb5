package transform

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestDynamicCallsCharged: a call on the input (body is dyn, so every field of it
// is) has its overload chosen at run time, which cel-go tracks under no overload and charged
// one unit whatever its arguments, strings aside: sorting, reversing, formatting or searching
// a list of the input as often as a comprehension repeats it cost nothing, and 20,000 items
// ran for seconds (gigabytes allocated) within a cost limit meant to be about 50 ms. Such a
// call is charged by the lengths of the lists and maps it is given, and the text it returns;
// the calls that do not walk their list or map (size, an index, a map's in) are as they were.
func TestDynamicCallsCharged(t *testing.T) {
	env := testEnv(t)
	const n = 5000
	strs := make([]any, n)
	for i := range strs {
		strs[i] = fmt.Sprint("item-", i)
	}
	keys := map[string]any{}
	for i := range 200 {
		keys[fmt.Sprint("k", i)] = int64(i)
	}
	vars := Vars{"m": map[string]any{"strs": strs, "keys": keys}}
	for _, src := range []string{
		`m.strs.map(x, m.strs.sort().size())`,
		`m.strs.map(x, m.strs.reverse().size())`,
		`m.strs.map(x, "%s".format([m.strs]).size())`,
		`m.strs.filter(x, x in m.strs)`,
		`m.strs.map(x, m.strs == m.strs)`,
		`m.strs.map(x, m.strs.distinct().size())`,
	} {
		wantCostLimit(t, env, src, vars)
	}
	for _, src := range []string{
		`m.strs.map(x, size(m.strs) + size(m.keys))`,
		`m.strs.map(x, m.strs[0])`,
		`m.strs.map(x, x in m.keys)`,
		`m.strs.map(x, m.keys.k1)`,
	} {
		p, err := Compile(env, `{"v": `+src+`}`)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Eval(t.Context(), vars); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

// TestDeepEqualityCharged: comparing two values that hold lists or maps (==, !=,
// in) walks them to the bottom, and was charged by their top level at most: a map of two
// lists of 5,000 items compared with itself as often as a comprehension repeats it cost a
// few units each time. A comparison that walked all of them (equal values, an absent
// element) is charged what it walked.
func TestDeepEqualityCharged(t *testing.T) {
	env := testEnv(t)
	const n = 5000
	strs := make([]any, n)
	for i := range strs {
		strs[i] = fmt.Sprint("item-", i)
	}
	nested := []any{map[string]any{"l": strs}}
	vars := Vars{"m": map[string]any{"strs": strs, "nested": nested}, "d": map[string]any{"a": strs, "b": strs}}
	for _, src := range []string{
		`m.strs.map(x, d == d)`,
		`m.strs.map(x, d != d)`,
		`m.strs.map(x, m.nested == m.nested)`,
		`m.strs.map(x, {"l": m.strs} in m.nested)`,
		`m.strs.map(x, {"l": []} in m.nested)`,
	} {
		p, err := Compile(env, `{"v": `+src+`}`)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		_, err = p.Eval(ctx, vars)
		cancel()
		want := ErrCostLimit
		if src == `m.strs.map(x, {"l": []} in m.nested)` {
			want = nil // one element, unequal at once: nothing walked
		}
		if !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", src, err, want)
		}
	}
}
