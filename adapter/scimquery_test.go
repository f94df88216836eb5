package adapter

import (
	"net/http"
	"strings"
	"testing"
)

// TestSCIMQueryUnreadable: a SCIM list's query pair Go cannot read (an unencoded
// ';', as encodeURI and many clients leave it, a '%' not followed by two hex digits, or a
// query of more than 10,000 pairs) was dropped without a word, so GET
// /Users?filter=displayName eq "Smith; Ann" answered every user as matching, and a
// directory sync that then acts on the matches acted on everyone. RFC 7644 §3.4.2.2: a
// filter that cannot be read is 400 invalidFilter; another parameter invalidValue.
func TestSCIMQueryUnreadable(t *testing.T) {
	h := newSyncHarness(t)
	for _, name := range []string{"alice", "bob"} {
		if code, out, _ := h.scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`"}`); code != http.StatusCreated {
			t.Fatalf("create %s: %d %v", name, code, out)
		}
	}
	for _, tc := range []struct{ path, scimType string }{
		{`/Users?filter=displayName%20eq%20%22Smith;%20Ann%22`, "invalidFilter"},
		{`/Users?filter=userName%20eq%20%22100%%22`, "invalidFilter"},
		{`/Groups?filter=displayName%20eq%20%22a;b%22`, "invalidFilter"},
		{`/Users?startIndex=1;count=1`, "invalidValue"},
		{`/Users?filter=userName%20eq%20%22alice%22` + strings.Repeat("&", 10_000), "invalidValue"},
	} {
		code, out, _ := h.scim("GET", tc.path, "")
		if code != http.StatusBadRequest || out["scimType"] != tc.scimType || out["status"] != "400" {
			t.Errorf("GET %.60s: %d %v, want 400 %s", tc.path, code, out, tc.scimType)
		}
	}
	// A query Go reads whole is as before.
	code, out, _ := h.scim("GET", `/Users?filter=userName%20eq%20%22alice%22&&`, "")
	if code != http.StatusOK || out["totalResults"] != float64(1) {
		t.Errorf("a readable filter: %d %v, want alice alone", code, out)
	}
}
