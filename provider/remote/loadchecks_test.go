package remote

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/transform"
)

// The load-time checks read the compiled program's own tree: the steps a lifecycle
// expression names, by selection or by index, and the keys of an outgoing result, with
// the line:column of an unknown one.
func TestLoadChecksReadTheCompiledTree(t *testing.T) {
	src := `{"method": "POST", "body": {"user": steps.lookup.body.id, "group": steps["group"].body.id}}`
	prg, err := transform.Compile(lcEnv(lcOutgoing, false, false), src)
	if err != nil {
		t.Fatal(err)
	}
	if refs := stepRefs(prg); len(refs) != 2 || refs[0] != "lookup" || refs[1] != "group" {
		t.Fatalf("stepRefs = %v, want [lookup group]", refs)
	}
	if err := checkResultKeys(prg); err != nil {
		t.Fatal(err)
	}
	bad, err := transform.Compile(outgoingEnv(), "{\"method\": \"POST\",\n  \"bodyy\": {}}")
	if err != nil {
		t.Fatal(err)
	}
	err = checkResultKeys(bad)
	if err == nil || !strings.HasPrefix(err.Error(), "2:3: ") || !strings.Contains(err.Error(), "bodyy") {
		t.Errorf("checkResultKeys of an unknown key = %v, want it at 2:3", err)
	}
	cond, err := transform.Compile(outgoingEnv(), `true ? {"method": "GET"} : {"methd": "GET"}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkResultKeys(cond); err == nil || !strings.Contains(err.Error(), "methd") {
		t.Errorf("checkResultKeys of a conditional's unknown key = %v", err)
	}
}
