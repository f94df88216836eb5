package transform

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestDynamicSortCharged: a sort whose overload is picked at run time (a list of
// the input) compares about n·log2(n) pairs, and was charged one unit an element: a
// thousand sorts of 1,000 strings took some 600 ms within a cost limit meant to be about
// 50 ms (a thousand-element sort is most of a millisecond, not 1,000 units' 50 µs). It is charged two
// units a comparison, as cel-go's typed sort charges per pair; one sort of a vendor's
// 1,000 devices stays well within the limit.
func TestDynamicSortCharged(t *testing.T) {
	env := testEnv(t)
	const n = 1000
	items := make([]any, n)
	for i := range items {
		items[i] = fmt.Sprintf("item-%04d", i*7919%n)
	}
	reps := make([]any, 500)
	for i := range reps {
		reps[i] = i
	}
	vars := Vars{"m": map[string]any{"items": items, "reps": reps}}
	for _, c := range []struct {
		src  string
		want error
	}{
		{`m.reps.map(x, m.items.sort())`, ErrCostLimit},
		{`m.reps.map(x, m.items.sortBy(e, e))`, ErrCostLimit},
		{`m.items.sort()`, nil},
		{`m.items.sortBy(e, e)`, nil},
		{`m.reps.map(x, m.items.reverse())`, nil},
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
