package transform

import (
	"errors"
	"strings"
	"testing"
)

// TestRegexConstantAtLoad: a constant pattern that is no regular expression is
// refused when the transform compiles, with the position of the call, not at every call.
func TestRegexConstantAtLoad(t *testing.T) {
	env := testEnv(t)
	_, err := Compile(env, `{"v": s.matches("(a")}`)
	if err == nil || !strings.Contains(err.Error(), "missing closing )") || !strings.Contains(err.Error(), "<input>:1:") {
		t.Fatalf("Compile of an invalid constant pattern = %v, want a load-time error with its position", err)
	}
	// A pattern only known at run time is still refused then, without quoting it.
	p, err := Compile(env, `{"v": "x".matches(s)}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Eval(t.Context(), Vars{"s": "(S3CRET"}); err == nil || strings.Contains(err.Error(), "S3CRET") {
		t.Fatalf("Eval of an invalid pattern = %v, want an error that does not quote it", err)
	}
}

// TestRegexConstantCompiledOnce: a constant pattern is compiled once, with the
// program, also on the cost-tracked path an evaluation takes when its inputs are larger than
// the static estimate bounds: compiling it per call (per element, in a comprehension over a
// vendor's list) costs far more than the cost limit charges for a match, a pattern with
// bounded repeats ([a-z]{1,64}) some hundred allocations and tens of microseconds each time.
func TestRegexConstantCompiledOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	env := testEnv(t)
	p, err := Compile(env, `{"v": s.matches("^[a-z]{1,64}@[a-z.]{1,64}$")}`)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 1<<16) // past what the estimate bounds: the tracked path
	if u := p.untrackedProgram(); u.prg != nil && uint64(len(long)) <= u.upTo {
		t.Fatalf("the input (%d bytes) takes the untracked path (up to %d)", len(long), u.upTo)
	}
	vars := Vars{"s": long}
	if _, err := p.Eval(t.Context(), vars); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := p.Eval(t.Context(), vars); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 30 {
		t.Errorf("an evaluation allocates %.0f times: the constant pattern is compiled per call", allocs)
	}
}

// TestRegexFromInputBounded: a pattern computed from the input is compiled on each
// call, and the cost limit charges a match by the lengths of its text and pattern, while
// compiling costs what the pattern expands to: 1,300 bytes of counted repeats
// ([a-z]{1,1000} a hundred times) are 200,000 instructions, a tenth of a second or more,
// charged a few thousand units, and 1 MiB of pattern about a second. Such a pattern is refused, on
// either path an evaluation takes, without being quoted; an ordinary one still matches, and a
// constant pattern (the operator's own, compiled once at load) is not bounded.
func TestRegexFromInputBounded(t *testing.T) {
	env := testEnv(t)
	p, err := Compile(env, `{"v": "S3CRET".matches(s)}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range []string{
		strings.Repeat("[a-z]{1,1000}", 100) + "S3CRET",
		strings.Repeat("(a|b)", 200_000) + "S3CRET",
		strings.Repeat("a", 1<<20) + "S3CRET",
	} {
		// A megabyte of pattern is charged past the cost limit (a match runs the pattern
		// over the text): refused too, without the pattern.
		_, err := p.Eval(t.Context(), Vars{"s": pattern})
		refused := err != nil && (strings.Contains(err.Error(), "pattern") || errors.Is(err, ErrCostLimit))
		if !refused || strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("Eval with a pattern of %d bytes = %v, want a refusal that does not quote it", len(pattern), err)
		}
	}
	for pattern, want := range map[string]bool{
		`^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255}\.[A-Za-z]{2,63}$`: false,
		`^S3C[A-Z]+$`:                            true,
		strings.Repeat("(?:x?)", 100) + "S3CRET": true,
	} {
		out, err := p.Eval(t.Context(), Vars{"s": pattern})
		if err != nil || out["v"] != want {
			t.Errorf("Eval with %q = %v, %v; want %v", pattern, out, err, want)
		}
	}
	big := strings.Repeat("[a-z]{1,1000}", 20)
	c, err := Compile(env, `{"v": s.matches("`+big+`")}`)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := c.Eval(t.Context(), Vars{"s": strings.Repeat("a", 20)}); err != nil || out["v"] != true {
		t.Errorf("a large constant pattern: %v, %v", out, err)
	}
}
