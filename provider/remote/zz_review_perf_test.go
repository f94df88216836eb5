package remote

import (
	"testing"

	"github.com/emfa/emfa/transform"
)

// TestReviewConstantVarsUnboxed: the transform inputs that are the same for every call of
// an engine (its headers, its header authentication, a resource's method) go into each
// call's Vars without an allocation: converted and boxed once, not boxed again per call
// (three allocations a mediated call before).
func TestReviewConstantVarsUnboxed(t *testing.T) {
	e := &Engine{}
	e.headerValue = transform.NewHeaderValue(map[string][]string{"Accept": {"application/json"}})
	e.authValue = transform.NewValue(map[string]string{"Authorization": "x"})
	r := &resource{name: "initiate", method: "POST", methodValue: transform.NewValue("POST")}
	vars := transform.Vars{transform.VarHeader: nil, transform.VarAuthenticationHeader: nil, transform.VarMethod: nil}
	if n := testing.AllocsPerRun(100, func() {
		vars[transform.VarHeader] = e.headerValue
		vars[transform.VarAuthenticationHeader] = e.authValue
		vars[transform.VarMethod] = r.methodValue
	}); n != 0 {
		t.Errorf("allocations putting an engine's constant inputs in Vars: %v, want 0", n)
	}
}
