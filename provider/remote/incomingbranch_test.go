package remote

import (
	"strings"
	"testing"
)

// TestIncomingBodylessBranch: a conditional one of whose branches is a map without
// body (an unexpected vendor answer failed on purpose: {} or {"error": …}) answered every
// call that took the other branch, and loaded before; it still loads, with a warning giving
// the branch's position. A result no branch of which has body can answer no call, and is
// still refused.
func TestIncomingBodylessBranch(t *testing.T) {
	for _, c := range []struct {
		src  string
		warn string // the position a warning names; "" when none
		bad  string // the position a refusal names; "" when it loads
	}{
		{`has(body.response) ? {"body": {"status": "SUCCESS"}} : {}`, `1:56`, ""},
		{"has(body.x)\n  ? {\"body\": {\"status\": \"SUCCESS\"}}\n  : {\"error\": {\"why\": \"unexpected\"}}", `3:5`, ""},
		{`has(body.x) ? {"bdy": 1} : {"error": 2}`, "", `1:15`},
		{`has(body.x) ? {"body": 1} : {"body": 2}`, "", ""},
	} {
		w := &Webhook{URLs: []string{"https://api.vendor.example"}, Resources: map[string]Resource{
			"test": {Suffix: "/check", Transform: Transform{Incoming: c.src}},
		}}
		warnings, err := Check(w)
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s: %v, want it to load", c.src, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad+": ")):
			t.Errorf("%s: %v, want a refusal at %s", c.src, err, c.bad)
		}
		got := strings.Join(warnings, "\n")
		switch {
		case c.warn == "" && strings.Contains(got, "no body key"):
			t.Errorf("%s: warned %q, want no warning", c.src, got)
		case c.warn != "" && !strings.Contains(got, "resources.test.transform.incoming: "+c.warn+": "):
			t.Errorf("%s: warnings %q, want one at %s", c.src, got, c.warn)
		}
	}
}
