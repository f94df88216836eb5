package remote

import (
	"strings"
	"testing"
)

// TestResultValueTypesAtLoad: a well-known key of an outgoing transform's result
// whose value can only be of a type apply refuses ("skip_authentication": "true", a method
// that is a number) failed every call, found only at the first one; it is refused at load
// with its position. A value of type dyn (read from the input) or of an accepted type loads.
func TestResultValueTypesAtLoad(t *testing.T) {
	for _, c := range []struct {
		src string
		bad string // the position and key the refusal names; "" when it loads
	}{
		{`{"skip_authentication": "true"}`, `1:25: skip_authentication`},
		{`{"title_case_bearer": 1}`, `1:23: title_case_bearer`},
		{"{\"body\": body,\n \"method\": 7}", `2:12: method`},
		{`{"path": ["/a"]}`, `1:10: path`},
		{`{"query": "a=b"}`, `1:11: query`},
		{`{"header": ["x"]}`, `1:12: header`},
		{`true ? {"method": 7} : {"method": 8}`, `1:19: method`},
		{`{"skip_authentication": true, "title_case_bearer": body.flag, "method": body.m, "path": path + "/x",
		  "query": {"a": 1, "b": ["c"]}, "header": header.put("a", "b"), "body": "x=1"}`, ""},
		{`{"body": {"a": 1}}`, ""},
		{`{"body": [1, 2]}`, ""},
		{`{"body": null}`, ""},
		{`{"query": body.q, "header": {"a": "b"}}`, ""},
	} {
		w := &Webhook{URLs: []string{"https://api.vendor.example"}, Resources: map[string]Resource{
			"test": {Suffix: "/check", Transform: Transform{Outgoing: c.src}},
		}}
		_, err := Check(w)
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%s: %v, want it to load", c.src, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), "resources.test.transform.outgoing: "+c.bad)):
			t.Errorf("%s: %v, want a refusal at %s", c.src, err, c.bad)
		}
	}
}
