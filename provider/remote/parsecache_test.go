package remote

import (
	"fmt"
	"testing"
)

// The load-time checks that read a transform's source (the steps a lifecycle step names,
// the keys an outgoing transform's result holds) parse it once per process, not once per
// engine: transform.Compile keeps what it compiled, and these parses were then half of
// what compiling a DUO Admin lifecycle cost under the race detector.
func TestSourceParsedOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under -race")
	}
	src := `{"method": "POST", "body": {"user": steps.lookup.body.id, "group": steps["group"].body.id}}`
	if refs := stepRefs(src); len(refs) != 2 || refs[0] != "lookup" || refs[1] != "group" {
		t.Fatalf("stepRefs = %v", refs)
	}
	if n := testing.AllocsPerRun(20, func() { stepRefs(src) }); n > 20 {
		t.Errorf("stepRefs of a source seen before allocates %.0f times; parsed again?", n)
	}
	if err := checkResultKeys(src); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { checkResultKeys(src) }); n > 20 {
		t.Errorf("checkResultKeys of a source seen before allocates %.0f times; parsed again?", n)
	}
	bad := `{"bodyy": 1}`
	if err := checkResultKeys(bad); err == nil {
		t.Error("an unknown key passed")
	}
	if err := checkResultKeys(bad); err == nil {
		t.Error("an unknown key passed the second time")
	}
}

// The parses kept are bounded, and a source that does not parse is reported each time.
func TestParsedSourcesBounded(t *testing.T) {
	for i := range maxParsed + 10 {
		parsedSource(fmt.Sprintf(`{"n": %d}`, i))
	}
	parsedMu.Lock()
	n := len(parsedSources)
	parsedMu.Unlock()
	if n > maxParsed {
		t.Errorf("%d parsed sources kept, more than %d", n, maxParsed)
	}
	if parsedSource(`{"n": `) != nil || parsedSource(`{"n": `) != nil {
		t.Error("a source that does not parse gave a tree")
	}
}
