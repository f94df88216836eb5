package transform

import (
	"context"
	"errors"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
)

// jsonToFormURLEncoded's estimate counts a list value by its length: each of its elements is
// written with the key again, and neither the elements' text nor the repeated key is in it.
// A body field is dyn, so {"username": body.username} may be handed a list (Verify's body is
// JSON), within the input size the untracked path is chosen for: that path then ran without
// cost tracking at many times its estimate, past the cost limit. The untracked path now
// leaves such a form to the tracked program, which stops it at the limit; a form of scalars
// (every DUO request) stays untracked.
func TestFormListValuesTracked(t *testing.T) {
	const hint, limit = 64, 4000 // toUpper of the form, 3 units a code point, within it at the hint
	env, err := NewEnvWithVariables(map[string]*cel.Type{"body": cel.MapType(cel.StringType, cel.DynType)},
		WithInputSizeHint(hint), WithCostLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	list := make([]any, hint)
	for i := range list {
		list[i] = strings.Repeat("!", 45) // each 135 bytes percent-encoded: the form stays under maxString
	}
	for _, src := range []string{
		`{"v": jsonToFormURLEncoded({"username": body.username}, true).toUpper()}`,
		// The untracked path's refusal, absorbed by ||, must not stand for the form's value.
		`{"v": jsonToFormURLEncoded({"username": body.username}, true).toUpper() == "" || true}`,
	} {
		p, err := Compile(env, src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		wantUntracked(t, p, src, limit, hint)
		out, err := p.Eval(context.Background(), Vars{"body": map[string]any{"username": list}})
		if !errors.Is(err, ErrCostLimit) {
			t.Errorf("%s: got %.80v, %v; want the cost limit's error", src, out, err)
		}
		// A list within the limit gives the form the tracked program gives.
		out, err = p.Eval(context.Background(), Vars{"body": map[string]any{"username": []any{"a b", "c"}}})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		// Only a list is left to tracking: a form of scalars is the untracked program's.
		for _, c := range []struct {
			in   any
			want bool
		}{{[]any{"a"}, true}, {"a b", false}} { // the second may reuse the first's pooled state
			if got := retracks(t, p, Vars{"body": map[string]any{"username": c.in}}); got != c.want {
				t.Errorf("%s: username %v: retrack %v, want %v", src, c.in, got, c.want)
			}
		}
		want := any("USERNAME=A%20B&USERNAME=C")
		if strings.Contains(src, "||") {
			want = true
		}
		if out["v"] != want {
			t.Errorf("%s: got %v, want %v", src, out["v"], want)
		}
	}
}

// retracks evaluates p's untracked program with vars and reports whether it left the
// evaluation to the tracked program.
func retracks(t *testing.T, p *Program, vars Vars) bool {
	t.Helper()
	st, _, err := p.activation(vars)
	if err != nil {
		t.Fatal(err)
	}
	defer st.release()
	st.act[untrackedVar] = st
	st.slack = p.untrackedProgram().slack
	if _, _, err := p.untrackedProgram().prg.Eval(st.act); err != nil && !st.retrack {
		t.Fatal(err)
	}
	return st.retrack
}
