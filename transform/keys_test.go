package transform

import (
	"strings"
	"testing"
)

// TestKeysFromInputNotInErrors: an error that names a map key shows it only when
// the transform's own text names it, as "no such key" does: a key computed from the input
// (a map keyed by a passvalue) may be a secret. jsonToFormURLEncoded put its keys in single
// quotes, which the redaction of run-time messages keeps (CEL writes type and function names
// so), and a result's keys reached Eval's error and Value.Interface's as they were.
func TestKeysFromInputNotInErrors(t *testing.T) {
	env := testEnv(t)
	const secret = "S3CRETxyz"
	vars := Vars{"s": secret}
	for _, c := range []struct {
		src, want string
	}{
		{`{"v": jsonToFormURLEncoded({s: {"a": 1}}, true)}`, "cannot be form-encoded"},
		{`{"v": jsonToFormURLEncoded({"k": [s], s: [{"a": 1}]}, true)}`, "cannot be form-encoded"},
		{`{"v": {s: 1.0/0.0}}`, "not a finite number"},
		{`{"v": {"x": [{s: {"y": 0.0/0.0}}]}}`, "not a finite number"},
		{`{"v": {s: 1, dyn(1): 2, "1": 3}}`, "twice"},
	} {
		p, err := Compile(env, c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		_, err = p.Eval(t.Context(), vars)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("Eval(%s) = %v, want %q without the key from the input", c.src, err, c.want)
		}
		if v, err := p.EvalValue(t.Context(), vars); err == nil {
			if _, err := v.Interface(); err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("EvalValue(%s).Interface() = %v, want an error without the key from the input", c.src, err)
			}
		}
	}
	// A key the transform names is still said, where it helps find the fault.
	for _, c := range []struct{ src, key string }{
		{`{"v": jsonToFormURLEncoded({"passcode": {"a": s}}, true)}`, "passcode"},
		{`{"v": {"expiry": 1.0/0.0}}`, "expiry"},
	} {
		p, err := Compile(env, c.src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Eval(t.Context(), vars); err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("Eval(%s) = %v, want it to name %s", c.src, err, c.key)
		}
	}
}
