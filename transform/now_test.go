package transform

import (
	"context"
	"os"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
)

// now given through Now is the time given as a time.Time, made UTC alike, and costs one
// allocation fewer an evaluation: boxed once, where a time.Time is boxed as an any and
// again as a CEL timestamp.
func TestNowBoxedOnce(t *testing.T) {
	env := testEnv(t)
	p, err := Compile(env, `{"v": formatTime(now, "2006-01-02 15:04:05 -0700"), "s": s}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	zone := time.FixedZone("x", 2*3600)
	eval := func(now any) string {
		t.Helper()
		res, err := p.EvalValue(ctx, Vars{"now": now, "s": "x"})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := res.Field("v")
		s, _ := v.Text()
		return s
	}
	for _, tm := range []time.Time{fixedNow, fixedNow.In(zone), time.Date(2026, 12, 6, 23, 30, 0, 0, zone)} {
		want := eval(tm)
		if got := eval(Now(tm)); got != want {
			t.Errorf("Now(%v): %q, want %q (a time.Time's)", tm, got, want)
		}
		// A CEL timestamp in another zone is made UTC as a time.Time is.
		if got := eval(types.Timestamp{Time: tm}); got != want {
			t.Errorf("timestamp %v: %q, want %q (a time.Time's)", tm, got, want)
		}
	}
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	allocs := func(now func() any) float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := p.EvalValue(ctx, Vars{"now": now(), "s": "x"}); err != nil {
				t.Fatal(err)
			}
		})
	}
	plain := allocs(func() any { return time.Now() })
	once := allocs(func() any { return Now(time.Now()) })
	t.Logf("an evaluation: %v allocations with a time.Time, %v with Now", plain, once)
	if once > plain-1 {
		t.Errorf("with Now: %v allocations, want at most %v (a time.Time's %v, less one)", once, plain-1, plain)
	}
}

// BenchmarkNow is an evaluation reading now, its Vars made per call as a vendor call
// makes them: EMFA_BENCH_NOW=time hands a time.Time, else Now's.
func BenchmarkNow(b *testing.B) {
	env := testEnv(b)
	p, err := Compile(env, `{"v": formatTime(now, "2006-01-02 15:04:05 -0700"), "s": s}`)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	plain := os.Getenv("EMFA_BENCH_NOW") == "time"
	b.ReportAllocs()
	for b.Loop() {
		var now any
		if plain {
			now = fixedNow
		} else {
			now = Now(fixedNow)
		}
		if _, err := p.EvalValue(ctx, Vars{"now": now, "s": "x"}); err != nil {
			b.Fatal(err)
		}
	}
}
