package adapter

import (
	"net/url"
	"testing"
)

// TestReviewSCIMFilterJSONEscapes: a filter's value is a JSON string (RFC 7644 §3.4.2.2,
// compValue per RFC 7159): `\/` and a character outside the BMP written as a surrogate
// pair are valid escapes a client may send, and must match rather than be refused 400.
func TestReviewSCIMFilterJSONEscapes(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"a/b@example.com","externalId":"ext/😀"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	for _, f := range []string{`userName eq "a\/b@example.com"`, `externalId eq "ext\/\ud83d\ude00"`} {
		code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(f), "")
		if code != 200 || list["totalResults"] != float64(1) {
			t.Errorf("%s: %d %v", f, code, list)
		}
	}
}
