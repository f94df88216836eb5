package adapter

import (
	"net/http"
	"testing"
)

// TestEmptyFilter: a filter parameter given empty (`?filter=`, `?filter`, or
// blanks) is no filter RFC 7644 §3.4.2.2's grammar has, and was read as none: every user
// (or group) was listed as matching it. A script that builds the filter from a variable
// it failed to set, and acts on the matches, acted on everyone. It is 400 invalidFilter;
// a listing without the parameter still lists everyone.
func TestEmptyFilter(t *testing.T) {
	h := newSyncHarness(t)
	for _, n := range []string{"a@example.com", "b@example.com"} {
		if code, out, _ := h.scim("POST", "/Users", `{"userName":"`+n+`"}`); code != http.StatusCreated {
			t.Fatalf("create %s: %d %v", n, code, out)
		}
	}
	if code, out, _ := h.scim("POST", "/Groups", `{"displayName":"g"}`); code != http.StatusCreated {
		t.Fatalf("create group: %d %v", code, out)
	}
	for _, q := range []string{"/Users?filter=", "/Users?filter", "/Users?filter=%20%20", "/Users?startIndex=1&filter=&count=10",
		"/Groups?filter=", "/Groups?filter=+"} {
		code, out, _ := h.scim("GET", q, "")
		if code != http.StatusBadRequest || out["scimType"] != "invalidFilter" || out["status"] != "400" {
			t.Errorf("GET %s: %d %v, want 400 invalidFilter", q, code, out)
		}
	}
	for q, want := range map[string]float64{"/Users": 2, "/Users?count=10": 2, "/Groups": 1} {
		if code, out, _ := h.scim("GET", q, ""); code != http.StatusOK || out["totalResults"] != want {
			t.Errorf("GET %s: %d %v, want 200 with %v", q, code, out, want)
		}
	}
}
