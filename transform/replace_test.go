package transform

import (
	"runtime"
	"strings"
	"testing"
)

// TestReplaceBounded: s.replace(old, new) builds a string of up to
// len(s) + (occurrences of old) × len(new) bytes, quadratic in its inputs (an empty old
// occurs between every two characters), and cel-go charges a call once it has returned: 12 kB
// from the input made 144 MB before the cost limit stopped it, 1 MiB would make a terabyte.
// As joinStrings, it refuses a result whose scan alone exceeds the cost limit before building
// it; an ordinary replace is as it was.
func TestReplaceBounded(t *testing.T) {
	env := testEnv(t)
	for _, c := range []struct {
		src string
		n   int
	}{
		{`{"v": s.replace("", s).size()}`, 12_000},
		{`{"v": s.replace("a", s).size()}`, 12_000},
		{`{"v": s.replace("a", s, 4000).size()}`, 12_000},
		{`{"v": s.replace("", s).size()}`, 3_500}, // 12 MB, just over the bound
		{`{"v": s.replace("aa", s + s, -1).size()}`, 6_000},
	} {
		p, err := Compile(env, c.src)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err = p.Eval(t.Context(), Vars{"s": strings.Repeat("a", c.n)})
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "replace") {
			t.Errorf("%s (%d bytes): %v, want replace's refusal", c.src, c.n, err)
		}
		if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 8 && !raceEnabled {
			t.Errorf("%s: %d MB allocated before it failed", c.src, mb)
		}
	}
	for src, want := range map[string]any{
		`{"v": s.replace("a", "bc")}`:      "bcbcbc",
		`{"v": s.replace("", "-")}`:        "-a-a-a-",
		`{"v": s.replace("a", "", 2)}`:     "a",
		`{"v": s.replace("a", "xy", 0)}`:   "aaa",
		`{"v": s.replace("zz", "xy", -1)}`: "aaa",
		`{"v": "héé".replace("", ".")}`:    ".h.é.é.",
	} {
		p, err := Compile(env, src)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Eval(t.Context(), Vars{"s": "aaa"})
		if err != nil || out["v"] != want {
			t.Errorf("%s = %v, %v; want %v", src, out["v"], err, want)
		}
	}
}
