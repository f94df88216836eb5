package transcript

import (
	"strings"
	"testing"
)

// TestReviewRefusesNegativeAdvanceAndNestedQuery: a clock cannot go back (advance: -1m
// was accepted, and moved a fake clock backwards), and a call's query value is a string
// or a list of them (a nested map was sent as Go's "map[b:c]"): both are refused when
// the transcript is read, at their line.
func TestReviewRefusesNegativeAdvanceAndNestedQuery(t *testing.T) {
	for _, c := range []struct{ name, steps, want string }{
		{"negative advance", "  - advance: -1m\n", "advance"},
		{"nested query", "  - call: {resource: result, method: GET, query: {a: {b: c}}}\n", "query"},
		{"nested query in a list", "  - call: {resource: result, method: GET, query: {a: [x, {b: c}]}}\n", "query"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := "name: x\nconfig: \"{}\"\nsteps:\n" + c.steps
			_, err := Parse([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse = %v, want an error naming %s", err, c.want)
			}
			if strings.Contains(err.Error(), "map[") {
				t.Errorf("the error shows Go's map text: %v", err)
			}
		})
	}
	// A list of strings and scalars stays fine.
	if _, err := Parse([]byte("name: x\nconfig: \"{}\"\nsteps:\n  - call: {resource: result, method: GET, query: {a: [x, 1], b: y}}\n  - advance: 30s\n")); err != nil {
		t.Fatalf("a plain query and a positive advance are refused: %v", err)
	}
}
