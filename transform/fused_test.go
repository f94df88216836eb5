package transform

import (
	"context"
	"testing"

	"cel.dev/cel-go/common/types/traits"
)

// evalAllocs returns the allocations of one EvalValue of {"v": expr}.
func evalAllocs(t *testing.T, env *Env, expr string, vars Vars) float64 {
	t.Helper()
	p, err := Compile(env, `{"v": `+expr+`}`)
	if err != nil {
		t.Fatalf("Compile %s: %v", expr, err)
	}
	ctx := context.Background()
	if _, err := p.EvalValue(ctx, vars); err != nil {
		t.Fatal(err)
	}
	return testing.AllocsPerRun(200, func() {
		if _, err := p.EvalValue(ctx, vars); err != nil {
			t.Fatal(err)
		}
	})
}

// A chain of puts on the header map, as each of IBM's DUO outgoing transforms makes (Date,
// Content-Type, Accept, Authorization), allocates what one put does.
func TestHeaderPutChainAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	env := testEnv(t)
	vars := Vars{"header": NewHeaderValue(map[string][]string{"Accept": {"text/plain"}}), "s": NewValue("x")}
	one := evalAllocs(t, env, `header.put("a", s)`, vars)
	four := evalAllocs(t, env, `header.put("a", s).put("b", s).put("accept", s).put("d", s)`, vars)
	if four > one {
		t.Errorf("four chained puts: %.0f allocations, one put: %.0f; want no more", four, one)
	}
}

// Chained puts give what the puts made one by one give, errors (and the put they name) included.
func TestHeaderPutChainMatchesCalls(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{
		"m":      map[string]any{"s": "12", "n": 3, "l": []any{"a", "b"}, "bad": []any{"a", 1}},
		"s":      "hello",
		"header": map[string][]string{"Accept": {"text/plain"}, "X-A": {"1", "2"}},
		"now":    fixedNow,
	}
	for _, expr := range []string{
		`header.put("a", s).put("b", s)`,
		`header.put("accept", s).put("ACCEPT", m.s).put("Accept", "z")`,
		`header.put("x-a", m.l).put("b", s).put("X-A", s)`,
		`header.put("a", s).put("b", s).put("c", s)["a"]`,
		`header.put("a", s).put("A", m.l).size()`,
		`header.put("a", s).put(dyn(1), s).put("b", s)`,
		`header.put("a", s).put("b", m.n).put("c", s)`,
		`header.put("a", s).put("b", m.bad).put("c", s)`,
		`header.put("a", s).put("b", m.missing).put("c", m.n)`,
		`header.put("a", m.missing).put("b", s)`,
		`header.put("a", s).put("b", s).put("c", s).put("d", s).put("e", s).put("f", s).put("g", s).put("h", s).put("i", s).put("j", s).put("k", s).put("l", s).put("m", s).put("n", s).put("o", s).put("p", s).put("q", s).put("a", "last")`,
		`header.put("a", s).put("b", s).put("c", s).put("d", s).put("e", s).put("f", s).put("g", s).put("h", s).put("i", s).put("j", s).put("k", s).put("l", s).put("m", s).put("n", s).put("o", s).put("p", s).put("q", s).put("r", s).put("s", s).put("t", s).put("u", s).put("v", s).put("w", s).put("x", s).put("y", s).put("z", s).put("accept", "last").put("x", "y")`,
		`header.put("a", s).put("b", s).putAll({"c": s}).put("A", m.s).put("d", s)`,
		`{"a": 1}.put("b", 2).put("a", 3)`,
		`{"a": 1}.put("b", 2).put("a", m.missing)`,
		`m.put("b", 2).put("s", 3).size()`,
		`[header.put("a", s).put("b", s), header.put("a", s).put("b", s).size()]`,
	} {
		matchesTracked(t, env, vars, expr, "(-calls +chain)")
	}
}

// The signature of IBM's DUO outgoing transforms, an HMAC of a joined text, joined with the key
// and encoded in base64, allocates what base64 of a string does: the joined texts and the HMAC
// are written where the next step reads them.
func TestSignatureAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	env := testEnv(t)
	vars := Vars{"m": NewValue(map[string]any{"s": "/auth/v2/auth", "k": "secret"}), "s": NewValue("POST")}
	plain := evalAllocs(t, env, `"Basic " + s.base64Encode()`, vars)
	sig := evalAllocs(t, env, `"Basic " + joinStrings([s, hmacSha1(joinStrings([s, m.s, "x"], "\n"), m.k)], ":").base64Encode()`, vars)
	if sig > plain {
		t.Errorf("signature: %.0f allocations, base64 of a string: %.0f; want no more", sig, plain)
	}
}

// hmacSha1, hmacSha256 and base64Encode of joined texts give what the calls made one by one
// give, errors (and the call they name) included.
func TestSignatureMatchesCalls(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	long := make([]byte, 100)
	for i := range long {
		long[i] = 'k'
	}
	vars := Vars{
		"m":      map[string]any{"s": "12", "n": 3, "k": "secret", "long": string(long), "l": []any{"a"}},
		"s":      "hello",
		"header": nil,
		"now":    fixedNow,
	}
	for _, expr := range []string{
		`"Basic " + joinStrings([s, hmacSha1(joinStrings([s, m.s, "x"], "\n"), m.k)], ":").base64Encode()`,
		`joinStrings([s, hmacSha256(joinStrings([s, m.s], "\n"), m.long)], ":").base64Encode()`,
		`hmacSha1(joinStrings([s, m.s], ""), m.long)`,
		`hmacSha1(joinStrings([s], "-"), "")`,
		`hmacSha1(joinStrings([s, m.s], m.s), m.k)`,
		`joinStrings([s, m.s], "/").base64Encode()`,
		`joinStrings([s, ""], "").base64Encode()`,
		`joinStrings([m.s, hmacSha1(s, m.k), hmacSha1(joinStrings([s], ""), s)], "\n").base64Encode().size()`,
		`[hmacSha1(joinStrings([s, m.s], "\n"), m.k), joinStrings([s, m.s], "\n").base64Encode()]`,
		// Errors: in an element, in the key, a non-string anywhere, and in which order.
		`hmacSha1(joinStrings([s, m.n], "\n"), m.k)`,
		`hmacSha1(joinStrings([s, m.missing], "\n"), m.k)`,
		`hmacSha1(joinStrings([s, m.n], "\n"), m.missing)`,
		`hmacSha1(joinStrings([s, m.s], "\n"), m.missing)`,
		`hmacSha1(joinStrings([s, m.s], "\n"), m.n)`,
		`hmacSha1(joinStrings([m.l, m.n], "\n"), m.n)`,
		`joinStrings([s, m.n], "\n").base64Encode()`,
		`joinStrings([s, m.missing, m.n], "\n").base64Encode()`,
		`joinStrings([m.n, m.missing], "\n").base64Encode()`,
		`joinStrings([s, hmacSha1(joinStrings([s, m.n], "\n"), m.k)], ":").base64Encode()`,
		`joinStrings([m.n, hmacSha1(joinStrings([s, m.s], "\n"), m.missing)], ":").base64Encode()`,
		`joinStrings([m.n, hmacSha1(joinStrings([s, m.s], "\n"), m.n)], ":").base64Encode()`,
		`"Basic " + joinStrings([s, hmacSha1(joinStrings([s, m.s, "x"], "\n"), m.k)], m.n).base64Encode()`,
	} {
		matchesTracked(t, env, vars, expr, "(-calls +fused)")
	}
}

// "Basic " + the base64 of a joined text, as IBM's DUO outgoing transforms make their
// Authorization header, allocates what base64 of a string does: the encoding is written after
// the prefix.
func TestPrefixedBase64Allocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	env := testEnv(t)
	vars := Vars{"m": NewValue(map[string]any{"s": "/auth/v2/auth", "k": "secret"}), "s": NewValue("POST")}
	plain := evalAllocs(t, env, `s.base64Encode()`, vars)
	sig := evalAllocs(t, env, `"Basic " + joinStrings([s, hmacSha1(joinStrings([s, m.s, "x"], "\n"), m.k)], ":").base64Encode()`, vars)
	if sig > plain {
		t.Errorf("\"Basic \" + signature: %.0f allocations, base64 of a string: %.0f; want no more", sig, plain)
	}
}

// A constant prefixed to a joined, hashed or encoded text gives what the call gives.
func TestPrefixedMatchesCalls(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{
		"m":      map[string]any{"s": "12", "n": 3, "k": "secret"},
		"s":      "hello",
		"header": nil,
		"now":    fixedNow,
	}
	for _, expr := range []string{
		`"Basic " + joinStrings([s, hmacSha1(joinStrings([s, m.s, "x"], "\n"), m.k)], ":").base64Encode()`,
		`"" + joinStrings([s, m.s], ":").base64Encode()`,
		`"x" + joinStrings([s, m.s], ":")`,
		`"x" + hmacSha256(joinStrings([s, m.s], ":"), m.k)`,
		`"x" + joinStrings([s, m.s], ":") + "y"`,
		`"x" + joinStrings([s, m.n], ":").base64Encode()`,
		`"x" + joinStrings([s, m.missing], ":")`,
		`"x" + hmacSha1(joinStrings([s, m.s], ":"), m.n)`,
		`("x" + joinStrings([s, m.s], ":")).size()`,
	} {
		matchesTracked(t, env, vars, expr, "(-calls +fused)")
	}
}

// A map or filter over a list, as IBM's DUO incoming enrollments transform makes over the
// devices and their capabilities, allocates as much for a few results as for one: the
// accumulator holds them in its own allocation, which is the result.
func TestComprehensionAccumulatorAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	env := testEnv(t)
	vars := Vars{"m": NewValue(map[string]any{
		"one": []any{"a"}, "five": []any{"a", "b", "c", "d", "e"}, "six": []any{"a", "b", "c", "d", "e", "f"},
	})}
	for _, tc := range []struct{ one, more string }{
		{`m.one.map(x, x)`, `m.five.map(x, x)`},
		{`m.one.map(x, x)`, `m.six.map(x, x)`},
		{`m.one.filter(x, x != "z")`, `m.five.filter(x, x != "z")`},
		{`m.one.map(x, x != "z", x)`, `m.six.map(x, x != "z", x)`},
	} {
		one := evalAllocs(t, env, tc.one, vars)
		more := evalAllocs(t, env, tc.more, vars)
		if more > one {
			t.Errorf("%s: %.0f allocations, %s: %.0f; want no more", tc.more, more, tc.one, one)
		}
	}
}

// Comprehensions whose accumulator is replaced give what CEL's give, errors included.
func TestComprehensionAccumulatorMatches(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{
		"m": map[string]any{"one": []any{"a"}, "six": []any{"a", "b", "c", "d", "e", "f"},
			"eight": []any{"a", "b", "c", "d", "e", "f", "g", "h"}, "mixed": []any{"a", 1, "b"},
			"devices": []any{
				map[string]any{"device": "D1", "name": "iPhone", "capabilities": []any{"auto", "push", "sms", "phone"}},
				map[string]any{"device": "D2", "capabilities": []any{"mobile_otp"}},
			}},
		"s":      "hello",
		"header": nil,
		"now":    fixedNow,
	}
	for _, expr := range []string{
		`m.six.map(x, x + s)`,
		`m.eight.map(x, [x])`,
		`m.eight.filter(x, x != "c")`,
		`m.eight.map(x, x != "c", x + "!")`,
		`m.eight.map(x, [x]).flatten()`,
		`m.devices.map(d, d.capabilities.filter(c, c != "auto").map(c, {"id": d.device, "c": c, "n": has(d.name) ? d.name : ""})).flatten()`,
		`m.six.map(x, x).size()`,
		`m.eight.map(x, x)[7]`,
		`m.six.map(x, x) == m.six`,
		`m.six.map(x, x) + ["z"]`,
		`"c" in m.eight.map(x, x)`,
		`m.eight.map(x, x).map(y, y + "!")`,
		`m.mixed.map(x, x + "!")`,
		`m.mixed.filter(x, x != "a")`,
		`m.eight.map(x, m.missing)`,
		`m.one.map(x, x).filter(y, y == "a")`,
		`[].map(x, x)`,
		`m.six.exists(x, x == "c")`,
		`m.eight.all(x, x != "z")`,
	} {
		matchesTracked(t, env, vars, expr, "(-CEL +ours)")
	}
}

// IBM's DUO incoming enrollments transform, evaluated as the remote engine does
// (BenchmarkDUOTransformsValues), allocates at most this much once its comprehensions keep
// their results in accumulators of their own.
const duoEnrollmentsIncomingAllocs = 28

func TestDUOEnrollmentsIncomingAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	d := loadDUO(t)
	preauth := map[string]any{"stat": "OK", "response": map[string]any{"result": "auth", "devices": []any{
		map[string]any{"device": "D1", "type": "phone", "number": "XXX-XXX-0100", "name": "iPhone",
			"capabilities": []any{"auto", "push", "sms", "phone"}},
		map[string]any{"device": "D2", "type": "token", "name": "YubiKey", "capabilities": []any{"mobile_otp"}},
	}}}
	vars := Vars{"body": NewValue(roundTripJSON(t, preauth)), "header": NewHeaderValue(nil), "status_code": 200,
		"request": map[string]any{"body": NewValue(roundTripJSON(t, duoBodies["enrollments"]))}}
	prg := d.incoming["enrollments"]
	ctx := context.Background()
	if _, err := prg.EvalValue(ctx, vars); err != nil {
		t.Fatal(err)
	}
	got := testing.AllocsPerRun(200, func() {
		if _, err := prg.EvalValue(ctx, vars); err != nil {
			t.Fatal(err)
		}
	})
	if got > duoEnrollmentsIncomingAllocs {
		t.Errorf("enrollments incoming: %.0f allocations an evaluation, want at most %d", got, duoEnrollmentsIncomingAllocs)
	}
}

// The size of a header map after puts counts each header once, whatever the case of the names
// that replaced it, across the flattening of a long chain too.
func TestHeaderSizeAfterPuts(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{"header": map[string][]string{"Accept": {"a"}, "X-A": {"1", "2"}}, "s": "v"}
	long := "header"
	for i := 0; i < 20; i++ {
		long += `.put("k` + string(rune('a'+i)) + `", s)`
	}
	for expr, want := range map[string]int64{
		`header.size()`:                         2,
		`header.put("accept", s).size()`:        2,
		`header.put("a", s).size()`:             3,
		`header.put("a", s).put("A", s).size()`: 3,
		`header.put("a", s).put("b", s).put("ACCEPT", s).put("x-a", s).size()`:      4,
		`header.put("a", s).put("b", s).put("A", s).put("B", s).put("c", s).size()`: 5,
		long + `.size()`: 22,
		long + `.put("KA", s).put("accept", s).size()`:    22,
		`header.putAll({"accept": s}).put("b", s).size()`: 3,
	} {
		p, err := Compile(env, `{"v": `+expr+`}`)
		if err != nil {
			t.Fatalf("Compile %s: %v", expr, err)
		}
		for _, tracked := range []bool{false, true} {
			var out map[string]any
			if tracked {
				st, _, err := p.activation(vars)
				if err != nil {
					t.Fatal(err)
				}
				v, _, err := p.prg.Eval(st.act)
				st.release()
				if err != nil {
					t.Fatalf("%s: %v", expr, err)
				}
				if out, err = mapToJSON(v.(traits.Mapper)); err != nil {
					t.Fatal(err)
				}
			} else if out, err = p.Eval(context.Background(), vars); err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			if got := out["v"]; got != want {
				t.Errorf("%s (tracked %v) = %v, want %d", expr, tracked, got, want)
			}
		}
	}
}
