package transform

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
)

// TestFlattenSizes: flatten() of results of 0 to 8 elements (either side of
// maxSmall), from lists of lists, of plain elements, and of both, with empty lists
// between, gives CEL's list: its size, its elements in order, its equality.
func TestFlattenSizes(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{"s": "x", "header": nil, "now": fixedNow}
	for total := 0; total <= 8; total++ {
		var nested, mixed, flat []string
		for i := range total {
			flat = append(flat, fmt.Sprint(i))
			if i%2 == 0 {
				mixed = append(mixed, fmt.Sprintf("[%d]", i))
			} else {
				mixed = append(mixed, fmt.Sprint(i))
			}
		}
		// Pairs, then an empty list: [[0, 1], [], [2, 3], [], ...].
		for i := 0; i < total; i += 2 {
			nested = append(nested, "["+strings.Join(flat[i:min(i+2, total)], ", ")+"]", "[]")
		}
		want := "[" + strings.Join(flat, ", ") + "]"
		for _, list := range []string{"[" + strings.Join(nested, ", ") + "]", "[" + strings.Join(mixed, ", ") + "]"} {
			for _, expr := range []string{
				list + `.flatten()`,
				list + `.flatten().size()`,
				list + `.flatten() == ` + want,
				`dyn(` + list + `).flatten().map(x, x * 2)`,
			} {
				matchesTracked(t, env, vars, expr, "(-CEL +flattenCall)")
			}
		}
	}
}

// TestNowZones: Now of a time in a zone that is not time.UTC (one named "UTC" an
// hour east, Local, one with a half-hour offset, the zero time's) is the same instant in
// time.UTC itself, the one the activation passes on as it is, and reads so.
func TestNowZones(t *testing.T) {
	env := testEnv(t)
	p, err := Compile(env, `{"v": formatTime(now, "2006-01-02T15:04:05.000000000Z07:00 MST")}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range []time.Time{
		fixedNow.In(time.FixedZone("UTC", 3600)),
		fixedNow.In(time.Local),
		fixedNow.In(time.FixedZone("", 5*3600+1800)),
		{},
		time.Unix(0, 1),
	} {
		ts, ok := Now(tm).(types.Timestamp)
		if !ok || ts.Location() != time.UTC || !ts.Time.Equal(tm) {
			t.Errorf("Now(%v) = %v, want the instant in time.UTC", tm, Now(tm))
		}
		res, err := p.EvalValue(t.Context(), Vars{"now": Now(tm)})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := res.Field("v")
		got, _ := v.Text()
		if want := tm.UTC().Format("2006-01-02T15:04:05.000000000Z07:00 MST"); got != want {
			t.Errorf("Now(%v): %q, want %q", tm, got, want)
		}
	}
}
