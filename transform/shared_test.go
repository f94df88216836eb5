package transform

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Sharing the calls a transform makes twice changes no result and no error, nor the position
// an error names: the untracked program, which shares them, agrees with the tracked one, which
// does not.
func TestSharedCallsMatchUnshared(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{
		"m":      map[string]any{"s": "12", "x": "a b", "l": []any{"1", "2"}, "bad": "x"},
		"s":      "hello",
		"header": map[string][]string{"Accept": {"text/plain"}},
		"now":    fixedNow,
	}
	cases := []struct {
		expr   string
		shared bool // sharedCalls finds a call to share
	}{
		{`[formatTime(now, '2006'), formatTime(now, '2006')]`, true},
		{`[formatTime(now, '2006'), formatTime(now, '06')]`, false},
		{`[int(m.s) + 1, int(m.s) + 2]`, true}, // int(m.s)
		{`[int(m.s) + 1, int(m.s) + 1]`, true},
		{`[m.s + "a", m.s + "b", m.x + "a"]`, false},
		{`[1 + 1, 1.0 + 1.0, 1u + 1u, "1" + "1"]`, false},
		{`[size(m.l), size(m.l), m.l.map(s, size(s)), m.l.map(m, size(m))]`, true},
		// Inside a comprehension a name may be its variable: nothing there is shared.
		{`[size(s), m.l.map(s, size(s)), m.l.map(x, size(s))]`, false},
		{`[m.l.map(x, x + s), m.l.map(x, x + s)]`, false},
		{`[jsonToFormURLEncoded({"a": m.x}, true), jsonToFormURLEncoded({"a": m.x}, true).size()]`, true},
		{`[header.put("a", s), header.put("a", s).size(), header.put("A", s)]`, true},
		// An error is not kept: each occurrence reports its own position.
		{`(int(m.bad) == 1 || true) && int(m.bad) == 2`, true},
		{`[int(m.bad), int(m.bad)]`, true},
		{`m.s == "12" ? int(m.bad) : int(m.bad)`, true},
		// uuid() is not a function of its arguments.
		{`uuid() != uuid()`, false},
		{`[uuid().size(), uuid().size()]`, false},
		// Nested: the outer call is shared, the inner one with it.
		{`[joinStrings([s.toUpper(), s.toUpper()], "-"), joinStrings([s.toUpper(), s.toUpper()], "-")]`, true},
		{`[m.x.base64Encode(), m.x.base64Encode(), hmacSha1(m.x, s), hmacSha1(m.x, s)]`, true},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(env, `{"v": `+tc.expr+`}`)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			u := p.untrackedProgram()
			if u.prg == nil {
				t.Fatal("no untracked program")
			}
			if u.shares != tc.shared {
				t.Errorf("shares %v, want %v", u.shares, tc.shared)
			}
			got, want, ok := trackedUntracked(t, p, vars)
			if !ok {
				return
			}
			if tc.expr == `uuid() != uuid()` {
				if got.(map[string]any)["v"] != true {
					t.Errorf("two uuid() calls gave one value")
				}
				return
			}
			if tc.expr[:5] == "[uuid" {
				return // two new uuids each time
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-unshared +shared):\n%s", diff)
			}
		})
	}
}

// Concurrent evaluations keep their shared values apart: each signs with its own Date.
func TestSharedCallsPerEvaluation(t *testing.T) {
	t.Parallel()
	d := loadDUO(t)
	p := d.outgoing["validate"]
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			vars := duoVars("validate", d.resources["validate"])
			now := fixedNow.Add(time.Duration(i) * time.Hour)
			vars["now"] = now
			date := now.Format("02 Jan 06 15:04 -0700")
			auth := duoAuthorization(date, "POST", duoHost, d.resources["validate"].Suffix, duoCanonParams(duoParams["validate"]))
			for range 200 {
				out, err := p.Eval(context.Background(), vars)
				if err != nil {
					t.Error(err)
					return
				}
				h := out["header"].(map[string]any)
				if got := h["date"].([]any)[0]; got != date {
					t.Errorf("date %v, want %v", got, date)
					return
				}
				if got := h["authorization"].([]any)[0]; got != auth {
					t.Errorf("authorization of another evaluation's date")
					return
				}
			}
		})
	}
	wg.Wait()
}

// IBM's DUO outgoing transforms share the Date, and the form where they sign one.
func TestDUOSharedCalls(t *testing.T) {
	t.Parallel()
	d := loadDUO(t)
	want := map[string]int{"enrollments": 2, "hotp_1": 2, "initiate": 2, "result": 1, "test": 1, "validate": 2}
	for name, p := range d.outgoing {
		slots := sharedCalls(p.ast.Expr())
		distinct := map[int]bool{}
		for _, s := range slots {
			distinct[s] = true
		}
		if len(distinct) != want[name] || len(slots) != 2*want[name] {
			t.Errorf("%s outgoing: %d calls sharing %d values, want %d sharing %d", name, len(slots), len(distinct), 2*want[name], want[name])
		}
		if len(sharedCalls(d.incoming[name].ast.Expr())) != 0 {
			t.Errorf("%s incoming: shares calls", name)
		}
	}
}

// trackedUntracked evaluates p's tracked program and its untracked one (with the values
// of shared calls) over vars, and fails t when their errors (as Eval reports them) differ. ok
// is false when both failed; else got and want are the untracked and tracked results.
func trackedUntracked(t *testing.T, p *Program, vars Vars) (got, want any, ok bool) {
	t.Helper()
	u := p.untrackedProgram()
	if u.prg == nil {
		t.Fatal("no untracked program")
	}
	st, _, err := p.activation(vars)
	if err != nil {
		t.Fatal(err)
	}
	defer st.release()
	tracked, _, terr := p.prg.Eval(st.act)
	st.act[sharedCallsVar] = &st.shared
	shared, _, serr := u.prg.Eval(st.act)
	if (terr == nil) != (serr == nil) || terr != nil && p.evalError(terr).Error() != p.evalError(serr).Error() {
		t.Fatalf("errors differ: unshared %v, shared %v", terr, serr)
	}
	if terr != nil {
		return nil, nil, false
	}
	want, werr := toJSON(tracked)
	got, gerr := toJSON(shared)
	if fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("conversion errors differ: unshared %v, shared %v", werr, gerr)
	}
	return got, want, true
}

// joinStrings of a list literal gives what the call on the list gives, errors included.
func TestJoinLiteralMatchesCall(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	vars := Vars{
		"m":      map[string]any{"s": "12", "n": 3, "bad": "x", "sep": "/"},
		"s":      "hello",
		"header": nil,
		"now":    fixedNow,
	}
	for _, expr := range []string{
		`joinStrings([s, m.s], "-")`,
		`joinStrings([s], "")`,
		`joinStrings([s, s.toUpper(), m.s, "", s, m.s], m.sep)`,
		`joinStrings([s, m.n], "-")`,
		`joinStrings([s, m.bad + 1], "-")`,
		`joinStrings([s, m.missing], "-")`,
		`joinStrings([s, m.s], m.n)`,
		`joinStrings([s, m.s], m.missing)`,
		`joinStrings([m.bad + 1, m.s], m.missing)`,
		`joinStrings([s, m.s], "-").size()`,
		`[joinStrings([s, m.s], "-"), joinStrings([s, m.s], "-")]`,
	} {
		matchesTracked(t, env, vars, expr, "(-call +literal)")
	}
}

// An evaluation converts the declared variables the transform reads, each as its kind wants,
// from a list made when compiling rather than by walking the environment's map.
func TestInputsAreTheVariablesRead(t *testing.T) {
	t.Parallel()
	d := loadDUO(t)
	want := []input{{"authentication_header", inputValue}, {"body", inputValue}, {"header", inputHeader},
		{"host", inputValue}, {"method", inputValue}, {"now", inputNow}, {"path", inputValue}}
	for name, p := range d.outgoing {
		got := p.inputs
		if name == "test" { // reads no body
			got = append([]input{got[0], {"body", inputValue}}, got[1:]...)
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(input{})); diff != "" {
			t.Errorf("%s outgoing inputs (-want +got):\n%s", name, diff)
		}
	}
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(env, `{"body": [request.body, header, status_code]}`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]input{{"header", inputHeader}, {"request", inputRequest}, {"status_code", inputValue}},
		p.inputs, cmp.AllowUnexported(input{})); diff != "" {
		t.Errorf("incoming inputs (-want +got):\n%s", diff)
	}
}

// matchesTracked compiles expr as a transform's value and fails t, in a subtest of its own,
// when the untracked program's result or error differs from the tracked one's; diff names
// the two sides ("(-tracked +untracked)").
func matchesTracked(t *testing.T, env *Env, vars Vars, expr, diff string) {
	t.Helper()
	t.Run(expr, func(t *testing.T) {
		t.Parallel()
		p, err := Compile(env, `{"v": `+expr+`}`)
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		got, want, ok := trackedUntracked(t, p, vars)
		if !ok {
			return
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s:\n%s", diff, d)
		}
	})
}
