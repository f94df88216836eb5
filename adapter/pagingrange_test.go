package adapter

import (
	"net/http"
	"net/url"
	"testing"
)

// TestPagingRange: a count or startIndex too large for an int was refused
// "must be an integer", though it is one. RFC 7644 §3.4.2.4: a count above the maximum
// is the maximum (1000 here), a negative one 0, and a startIndex past the results is a
// page of none (below 1, the first). A number beyond int64 reads so too.
func TestPagingRange(t *testing.T) {
	h := newSyncHarness(t)
	for _, n := range []string{"a@example.com", "b@example.com"} {
		if code, out, _ := h.scim("POST", "/Users", `{"userName":"`+n+`","externalId":"x"}`); code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, out)
		}
	}
	for _, g := range []string{"g1", "g2"} {
		if code, out, _ := h.scim("POST", "/Groups", `{"displayName":"`+g+`","externalId":"x"}`); code != http.StatusCreated {
			t.Fatalf("create group: %d %v", code, out)
		}
	}
	const huge, tiny = "99999999999999999999", "-99999999999999999999"
	ext := "&filter=" + url.QueryEscape(`externalId eq "x"`)
	for _, c := range []struct {
		q     string
		items int
	}{
		{"/Users?count=" + huge, 2},
		{"/Users?count=" + huge + ext, 2},
		{"/Groups?count=" + huge, 2},
		{"/Groups?count=" + huge + ext, 2},
		{"/Users?count=" + tiny, 0},
		{"/Groups?count=" + tiny, 0},
		{"/Users?startIndex=" + huge, 0},
		{"/Users?startIndex=" + huge + ext, 0},
		{"/Groups?startIndex=" + huge, 0},
		{"/Groups?startIndex=" + huge + ext, 0},
		{"/Users?startIndex=" + tiny, 2},
		{"/Groups?startIndex=" + tiny + ext, 2},
		{"/Users?startIndex=9223372036854775807&count=9223372036854775807", 0},
		{"/Groups?startIndex=9223372036854775807&count=9223372036854775807" + ext, 0},
	} {
		code, out, _ := h.scim("GET", c.q, "")
		if code != http.StatusOK || out["totalResults"] != float64(2) || out["itemsPerPage"] != float64(c.items) {
			t.Errorf("GET %s: %d %v, want 200, totalResults 2, %d items", c.q, code, out, c.items)
		}
	}
	for _, q := range []string{"/Users?count=1e3", "/Groups?startIndex=x"} {
		if code, out, _ := h.scim("GET", q, ""); code != http.StatusBadRequest || out["scimType"] != "invalidValue" {
			t.Errorf("GET %s: %d %v, want 400 invalidValue", q, code, out)
		}
	}
}
