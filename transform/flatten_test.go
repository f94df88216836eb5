package transform

import (
	"context"
	"strings"
	"testing"
)

// flatten() gives what CEL's does, errors and unknown receivers included, whatever the
// size of its result (a smallList up to maxSmall elements, a slice beyond).
func TestFlattenMatchesCEL(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{
		"m": map[string]any{"s": "12", "n": 3, "l": []any{"a", []any{"b", "c"}, 4},
			"ll": []any{[]any{1, 2, 3, 4}, []any{5, 6, 7}, []any{}}, "e": []any{}},
		"s":      "hello",
		"header": nil,
		"now":    fixedNow,
	}
	for _, expr := range []string{
		`m.l.flatten()`,
		`m.ll.flatten()`,
		`m.e.flatten()`,
		`[m.e, m.e].flatten()`,
		`[[1], [2, [3]], 4, "x", {"a": 1}].flatten()`,
		`m.ll.map(l, l.map(x, x * 2)).flatten()`,
		`m.ll.map(l, l.filter(x, x > 2)).flatten().size()`,
		`m.ll.flatten()[6]`,
		`m.ll.flatten() == [1, 2, 3, 4, 5, 6, 7]`,
		`m.l.flatten() + ["d"]`,
		`[[s, s], [s]].flatten().map(x, x + "!")`,
		`[[s], [s]].flatten().exists(x, x == "hello")`,
		// Errors: a receiver that is no list, missing, or an error inside its literal.
		`dyn(m.s).flatten()`,
		`m.missing.flatten()`,
		`[m.missing, [1]].flatten()`,
		`dyn(m.n).flatten().size()`,
	} {
		matchesTracked(t, env, vars, expr, "(-CEL +flattenCall)")
	}
}

// IBM's DUO enrollments answer, each device's factors flattened into one list, is one
// allocation for its list of up to maxSmall enrollments (CEL's flatten: three or four), and
// a list of more is two.
func TestFlattenAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	env := testEnv(t)
	vars := Vars{"m": NewValue(map[string]any{"ll": []any{[]any{"a", "b", "c"}, []any{"d"}}, "big": []any{
		[]any{"a", "b", "c", "d"}, []any{"e", "f", "g", "h"}}})}
	base := evalAllocs(t, env, `m.ll`, vars)
	if got := evalAllocs(t, env, `m.ll.flatten()`, vars); got > base+1 {
		t.Errorf("flatten of four: %.0f allocations, want at most %.0f", got, base+1)
	}
	if got := evalAllocs(t, env, `m.big.flatten()`, vars); got > base+2 {
		t.Errorf("flatten of eight: %.0f allocations, want at most %.0f", got, base+2)
	}
}

// The decorator is the one an untracked evaluation of IBM's DUO enrollments transform uses.
func TestFlattenDUOEnrollments(t *testing.T) {
	d := loadDUO(t)
	src := d.resources["enrollments"].Transform.Incoming
	if !strings.Contains(src, ".flatten()") {
		t.Fatalf("the DUO enrollments transform no longer flattens: %s", src)
	}
	p := d.incoming["enrollments"]
	body := map[string]any{"stat": "OK", "response": map[string]any{"devices": []any{
		map[string]any{"device": "D1", "name": "iPhone", "number": "1", "capabilities": []any{"auto", "push", "sms", "phone"}},
		map[string]any{"device": "D2", "name": "Key", "capabilities": []any{"mobile_otp"}},
	}}}
	res, err := p.EvalValue(context.Background(), Vars{"body": body, "statusCode": 200})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := res.Field("body")
	if _, ok := list.v.(*smallList); !ok {
		t.Errorf("enrollments list is %T, want a *smallList (flattenCall's)", list.v)
	}
	if n, _ := list.Len(); n != 4 {
		t.Errorf("%d enrollments, want 4", n)
	}
}
