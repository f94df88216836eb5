package transform

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestUnequalComparisonCharged: a comparison of two values alike but for their
// last element walks both to it, and was charged by their top level since it found them
// unequal (only an equal result was charged what it walked): two maps of a 5,000-item
// list differing in the last item, compared as often as a comprehension over 400 items
// repeats it, walked two million values for some two thousand units. A comparison is
// charged what it may walk, the smaller operand's values at every depth (for in, each
// element's against the one sought), whatever it finds; one against a small value (a
// literal, an empty list) stays cheap.
func TestUnequalComparisonCharged(t *testing.T) {
	env := testEnv(t)
	const n = 5000
	a, b := make([]any, n), make([]any, n)
	for i := range a {
		a[i], b[i] = fmt.Sprint("item-", i), fmt.Sprint("item-", i)
	}
	b[n-1] = "other"
	reps := make([]any, 400)
	for i := range reps {
		reps[i] = i
	}
	vars := Vars{"m": map[string]any{"reps": reps, "a": map[string]any{"l": a}, "b": map[string]any{"l": b}, "bs": []any{map[string]any{"l": b}}}}
	for _, c := range []struct {
		src  string
		want error
	}{
		{`m.reps.map(x, m.a == m.b)`, ErrCostLimit},
		{`m.reps.map(x, m.a != m.b)`, ErrCostLimit},
		{`m.reps.map(x, m.a.l == m.b.l)`, ErrCostLimit},
		{`m.reps.map(x, m.a in m.bs)`, ErrCostLimit},
		{`m.reps.map(x, m.a == {})`, nil},
		{`m.reps.map(x, m.a.l != [])`, nil},
		{`m.reps.map(x, m.a in [{"l": []}, 1, "s"])`, nil},
	} {
		p, err := Compile(env, `{"v": `+c.src+`}`)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		_, err = p.Eval(ctx, vars)
		cancel()
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", c.src, err, c.want)
		}
	}
}
