package transform

import (
	"context"
	"errors"
	"testing"
	"time"
)

// wantCostLimit checks that {"v": src} evaluated over vars meets the cost limit. A deadline
// ends a run the cost limit does not stop.
func wantCostLimit(t *testing.T, env *Env, src string, vars Vars) {
	t.Helper()
	p, err := Compile(env, `{"v": `+src+`}`)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := p.Eval(ctx, vars); !errors.Is(err, ErrCostLimit) {
		t.Errorf("%.80s: %v, want the cost limit's error", src, err)
	}
}

// callCost is what the call of {"v": src} costs beyond its argument arg ({"v": arg}): the
// tracked program's charge for vars, and the static estimate at the input size hint.
func callCost(t *testing.T, env *Env, src, arg string, vars Vars) (tracked, estimate uint64) {
	t.Helper()
	p, err := Compile(env, `{"v": `+src+`}`)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	a, err := Compile(env, `{"v": `+arg+`}`)
	if err != nil {
		t.Fatalf("%s: %v", arg, err)
	}
	_, est := p.CostEstimate()
	_, base := a.CostEstimate()
	return trackedCost(t, p, vars) - trackedCost(t, a, vars), est - base
}

// trackedCost is the cost p's tracked program is charged for evaluating vars.
func trackedCost(t testing.TB, p *Program, vars Vars) uint64 {
	t.Helper()
	st, _, err := p.activation(vars)
	if err != nil {
		t.Fatal(err)
	}
	defer st.release()
	_, det, err := p.prg.Eval(st.act)
	if err != nil {
		t.Fatal(err)
	}
	return *det.ActualCost()
}

// wantUntracked checks that p, compiled from src, is estimated within limit and takes the
// untracked path for inputs up to hint: what a test of that path needs.
func wantUntracked(t *testing.T, p *Program, src string, limit, hint uint64) {
	t.Helper()
	if _, est := p.CostEstimate(); est > limit {
		t.Fatalf("%s: estimate %d over the limit: the test needs the untracked path", src, est)
	}
	if u := p.untrackedProgram(); u.prg == nil || u.upTo < hint {
		t.Fatalf("%s: untracked up to %d, want at least %d", src, u.upTo, hint)
	}
}
