package transform

import (
	"context"
	"errors"
	"testing"
)

// A timestamp's accessor given a time zone by name (now.getHours("America/New_York")) loads
// the zone from the system's database on every call, some 50 µs, about a thousand of the cost
// limit's units, and cel-go charged and estimated it one unit: once per element of a 4,096-
// element list it was estimated within the limit and ran for 200 ms untracked, twenty
// times what one unit a call accounts for, and within the limit the tracked program could
// load zones for three seconds. A call with a zone name is charged a load, statically and
// when it runs; one with an offset ("+05:00") is charged as before.
func TestZoneByNameChargedItsLoad(t *testing.T) {
	env := testEnv(t)
	l := make([]any, 4096)
	for i := range l {
		l[i] = int64(i)
	}
	vars := Vars{"m": map[string]any{"l": l, "tz": "America/New_York", "off": "+05:00"}, "now": fixedNow}
	p, err := Compile(env, `{"v": m.l.map(x, now.getHours(m.tz))}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Eval(context.Background(), vars); !errors.Is(err, ErrCostLimit) {
		t.Errorf("a zone loaded 4,096 times: %v, want the cost limit's error", err)
	}
	for _, c := range []struct {
		src, arg string
		cost     uint64
	}{
		{`now.getHours(m.tz)`, `[now, m.tz]`, 1 + zoneLoadCost},
		{`now.getFullYear("Europe/Paris")`, `[now, "Europe/Paris"]`, 1 + zoneLoadCost},
		{`now.getSeconds(m.tz)`, `[now, m.tz]`, 1 + zoneLoadCost},
		{`now.getHours(m.off)`, `[now, m.off]`, 1},
		{`now.getHours()`, `[now]`, 1},
	} {
		p, err := Compile(env, `{"v": `+c.src+`}`)
		if err != nil {
			t.Fatal(err)
		}
		arg, err := Compile(env, `{"v": `+c.arg+`}`)
		if err != nil {
			t.Fatal(err)
		}
		// The list literal costs what the call's arguments do, and the list's creation.
		const list = 10
		if got, base := trackedCost(t, p, vars), trackedCost(t, arg, vars)-list; got-base != c.cost {
			t.Errorf("%s: tracked cost %d, want %d", c.src, got-base, c.cost)
		}
		_, est := p.CostEstimate()
		_, base := arg.CostEstimate()
		if c.cost > 1 && est-(base-list) < c.cost {
			t.Errorf("%s: estimate %d, want at least %d", c.src, est-(base-list), c.cost)
		}
	}
}
