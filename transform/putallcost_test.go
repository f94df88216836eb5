package transform

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
)

// putAll's estimated result gave its entry count only, so that a function handed it (the
// form encoding of a putAll chain, as IBM's DUO Admin API transforms sign) had no bound
// and the transform was checked with a warning. Its keys and values are now its inputs':
// the estimate of each of these is finite, and no smaller than the cost tracked when they
// run over inputs of the largest size the estimate assumes (distinct keys, so that the
// result holds every entry of both maps, and characters of four UTF-8 bytes, each
// percent-encoded to twelve).
func TestPutAllEstimateBoundsTrackedCost(t *testing.T) {
	const hint = 64
	env, err := NewEnvWithVariables(map[string]*cel.Type{
		"a":      cel.MapType(cel.StringType, cel.StringType),
		"b":      cel.MapType(cel.StringType, cel.StringType),
		"event":  cel.MapType(cel.StringType, cel.DynType),
		"header": headerType,
	}, WithInputSizeHint(hint))
	if err != nil {
		t.Fatal(err)
	}
	long := func(prefix string) string { return prefix + strings.Repeat("😀", hint-len(prefix)) }
	a, b := map[string]any{}, map[string]any{}
	for i := range hint {
		a[long(fmt.Sprintf("a%d", i))] = long("")
		b[long(fmt.Sprintf("b%d", i))] = long("")
	}
	header := map[string][]string{}
	for i := range hint {
		vs := make([]string, hint)
		for j := range vs {
			vs[j] = long("")
		}
		header[long(fmt.Sprintf("h%d", i))] = vs
	}
	vars := Vars{"a": a, "b": b, "header": header, "now": fixedNow, "event": map[string]any{
		"username": long("u"), "email": long("e"), "displayName": long("d"),
	}}
	for _, src := range []string{
		`a.putAll(b)`,
		`jsonToFormURLEncoded(a.putAll(b), true)`,
		`jsonToFormURLEncoded({}.putAll(a).putAll(b), false)`,
		`jsonToFormURLEncoded(a.putAll({}).putAll(b.putAll({})), true)`,
		// user.create's and user.update's bodies in testdata/config/duo-admin.yaml.
		`jsonToFormURLEncoded({"username": event.username, "status": "active"}
			.putAll(has(event.email) ? {"email": event.email} : {})
			.putAll(has(event.displayName) ? {"realname": event.displayName} : {}), true)`,
		`jsonToFormURLEncoded({}
			.putAll(has(event.email) ? {"email": event.email} : {})
			.putAll(has(event.displayName) ? {"realname": event.displayName} : {}), true)`,
		// The result's entries, keys and values, read by a comprehension and by calls.
		`a.putAll(b).map(k, a.putAll(b)[k] + k)`,
		`joinStrings(a.putAll(b).map(k, a.putAll(b)[k].toUpper()), ",")`,
		`{}.putAll(a).map(k, {}.putAll(a)[k] + k)`,
		`a.putAll({}).map(k, a.putAll({})[k] + k)`,
		// A header map's string value becomes a one-element list.
		`header.putAll(a).map(k, header.putAll(a)[k] + [k])`,
	} {
		p, err := Compile(env, `{"v": `+src+`}`)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		_, est := p.CostEstimate()
		if est == math.MaxUint64 {
			t.Errorf("%s: no estimate (%s)", src, p.CostWarning())
			continue
		}
		st, _, err := p.activation(vars)
		if err != nil {
			t.Fatal(err)
		}
		_, det, err := p.prg.Eval(st.act) // the tracked program
		st.release()
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := *det.ActualCost(); got > est {
			t.Errorf("%s: tracked cost %d, over the estimate %d", src, got, est)
		} else {
			t.Logf("%s: tracked cost %d, estimate %d", src, got, est)
		}
	}
}
