package transform

import (
	"fmt"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
)

// A transform compiled again in the same environment is the program compiled before: start-up
// checks and then builds every provider, each reload compiles every transform again, and a
// test binary starting servers compiled IBM's DUO transforms tens of times.
func TestCompileCachedPerEnvironment(t *testing.T) {
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	const src = `{"body": {"m": method, "n": size(body)}}`
	p1, err := Compile(env, src)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Compile(env, src)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 {
		t.Error("the same source in the same environment compiled twice")
	}
	if !raceEnabled {
		if n := testing.AllocsPerRun(100, func() { Compile(env, src) }); n > 0 {
			t.Errorf("a cached compile allocates %.0f times", n)
		}
	}
	// Another environment, even with the same declarations, has programs of its own: a
	// program holds its environment (limits, variables), which the cache must not swap.
	other, err := NewEnv(Outgoing, WithCostLimit(10))
	if err != nil {
		t.Fatal(err)
	}
	p3, err := Compile(other, src)
	if err != nil {
		t.Fatal(err)
	}
	if p3 == p1 || p3.env != other {
		t.Error("a program compiled in another environment is the first environment's")
	}
}

// The cache never answers for an environment that would not compile the source: a variable
// declared in one environment is unknown in another.
func TestCompileCacheKeepsDeclarations(t *testing.T) {
	withX, err := NewEnvWithVariables(map[string]*cel.Type{"x": cel.StringType})
	if err != nil {
		t.Fatal(err)
	}
	withoutX, err := NewEnvWithVariables(map[string]*cel.Type{"y": cel.StringType})
	if err != nil {
		t.Fatal(err)
	}
	const src = `{"a": x}`
	if _, err := Compile(withX, src); err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(withoutX, src); err == nil || !strings.Contains(err.Error(), "undeclared reference to 'x'") {
		t.Errorf("x compiled where it is not declared: %v", err)
	}
	// An error is not kept: each compile reports it.
	if _, err := Compile(withoutX, src); err == nil {
		t.Error("the second compile of an undeclared reference succeeded")
	}
}

// The cache is bounded: it keeps the programs compiled or used most recently, and forgets
// the oldest.
func TestCompileCacheBounded(t *testing.T) {
	env, err := NewEnvWithVariables(map[string]*cel.Type{"x": cel.IntType})
	if err != nil {
		t.Fatal(err)
	}
	src := func(i int) string { return fmt.Sprintf(`{"a": x + %d}`, i) }
	first, err := Compile(env, src(0))
	if err != nil {
		t.Fatal(err)
	}
	kept, err := Compile(env, src(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < maxCompiled+1; i++ {
		if i%16 == 0 {
			Compile(env, src(1)) // used: kept however many come after
		}
		if _, err := Compile(env, src(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := compiledLen(); n > maxCompiled {
		t.Errorf("%d programs cached, more than %d", n, maxCompiled)
	}
	if p, _ := Compile(env, src(1)); p != kept {
		t.Error("a program used recently was forgotten")
	}
	if p, _ := Compile(env, src(0)); p == first {
		t.Error("the oldest program is still cached")
	}
}

// Evaluations of one cached program from different callers see only their own values.
func TestCompileCachedProgramSharedSafely(t *testing.T) {
	env, err := NewEnvWithVariables(map[string]*cel.Type{"x": cel.IntType})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Compile(env, `{"a": x * 2}`)
	b, _ := Compile(env, `{"a": x * 2}`)
	if a != b {
		t.Fatal("not cached")
	}
	ra, err := a.Eval(t.Context(), Vars{"x": int64(2)})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Eval(t.Context(), Vars{"x": int64(5)})
	if err != nil {
		t.Fatal(err)
	}
	if ra["a"] != int64(4) || rb["a"] != int64(10) {
		t.Errorf("results %v %v", ra, rb)
	}
}

// compiledLen is how many programs the cache holds.
func compiledLen() int {
	compiled.mu.Lock()
	defer compiled.mu.Unlock()
	return compiled.order.Len()
}
