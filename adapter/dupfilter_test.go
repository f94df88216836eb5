package adapter

import (
	"net/http"
	"net/url"
	"testing"
)

// TestDuplicateListParams: a listing that gives filter (or startIndex, count)
// twice was read by its first alone: `?filter=userName eq "a"&filter=active eq false`
// answered the user a as matching whatever its state, the second clause dropped without
// a word. Which one a client meant cannot be told, and `and` says both: a parameter
// given twice is 400 (invalidFilter for filter, invalidValue for the others).
func TestDuplicateListParams(t *testing.T) {
	h := newSyncHarness(t)
	if code, out, _ := h.scim("POST", "/Users", `{"userName":"a@example.com"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	f := func(s string) string { return "filter=" + url.QueryEscape(s) }
	for q, typ := range map[string]string{
		"/Users?" + f(`userName eq "a@example.com"`) + "&" + f(`active eq false`): "invalidFilter",
		"/Users?" + f(`userName eq "a@example.com"`) + "&filter=":                 "invalidFilter",
		"/Groups?" + f(`displayName eq "x"`) + "&" + f(`displayName eq "y"`):      "invalidFilter",
		"/Users?count=1&count=1000":                                               "invalidValue",
		"/Groups?startIndex=1&startIndex=5":                                       "invalidValue",
	} {
		code, out, _ := h.scim("GET", q, "")
		if code != http.StatusBadRequest || out["scimType"] != typ {
			t.Errorf("GET %s: %d %v, want 400 %s", q, code, out, typ)
		}
	}
	if code, out, _ := h.scim("GET", "/Users?"+f(`userName eq "a@example.com"`)+"&startIndex=1&count=5", ""); code != http.StatusOK || out["totalResults"] != float64(1) {
		t.Errorf("one of each: %d %v", code, out)
	}
}
