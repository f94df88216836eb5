package remote

import (
	"strings"
	"testing"
)

// TestIncomingWithoutBodyAtLoad: an incoming transform's result is read for its
// body key alone (cel-dialect.md); a result written as a map without one (a typo, "bdy")
// can never give an answer, and is refused at load with its position, not on every call
// as "returned no body". A result whose keys are computed, or that is no map literal, is
// left to run time; one with body and other keys loads (Verify ignores them).
func TestIncomingWithoutBodyAtLoad(t *testing.T) {
	for _, c := range []struct {
		src string
		bad string // "" when it loads, else the position and key the error names
	}{
		{`{"bdy": {"status": "SUCCESS"}}`, `1:1`},
		// One branch without body loads, with a warning (TestIncomingBodylessBranch).
		{"has(body.x)\n  ? {\"bdy\": {\"status\": \"SUCCESS\"}}\n  : {\"bdy\": {\"status\": \"FAILED\"}}", `2:5`},
		{`{}`, `1:1`},
		{`{"body": body, "note": 1}`, ""},
		{`has(body.x) ? {"body": body} : {"body": {"status": "FAILED"}}`, ""},
		{`{"bo" + "dy": body}`, ""},
		{`body.x`, ""},
		{`{"body": body}.put("x", 1)`, ""},
	} {
		w := &Webhook{URLs: []string{"https://api.vendor.example"}, Resources: map[string]Resource{
			"test": {Suffix: "/check", Transform: Transform{Incoming: c.src}},
		}}
		_, err := Check(w)
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s: %v, want it to load", c.src, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), "resources.test.transform.incoming") ||
			!strings.Contains(err.Error(), c.bad+": ") || !strings.Contains(err.Error(), "no body key")):
			t.Errorf("%s: %v, want a refusal at %s naming the missing body key", c.src, err, c.bad)
		}
	}
}
