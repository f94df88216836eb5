package transform

import (
	"strings"
	"testing"
)

// TestReviewC55RegexConstantAtLoad: a constant pattern that is no regular expression is
// refused when the transform compiles, with the position of the call, not at every call.
func TestReviewC55RegexConstantAtLoad(t *testing.T) {
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

// TestReviewC55RegexConstantCompiledOnce: a constant pattern is compiled once, with the
// program, also on the cost-tracked path an evaluation takes when its inputs are larger than
// the static estimate bounds: compiling it per call (per element, in a comprehension over a
// vendor's list) costs far more than the cost limit charges for a match, a pattern with
// bounded repeats ([a-z]{1,64}) some hundred allocations and tens of microseconds each time.
func TestReviewC55RegexConstantCompiledOnce(t *testing.T) {
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
