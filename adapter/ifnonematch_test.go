package adapter

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestIfNoneMatchFields: If-None-Match, like If-Match, may list its tags in
// several fields (RFC 9110 §5.3, §13.1.2). A GET of a user or group read the first alone:
// one whose second field named the current version was answered the whole resource, 200,
// and a group's first field sent empty was taken for no If-None-Match at all. It is 304.
func TestIfNoneMatchFields(t *testing.T) {
	h := newSyncHarness(t)
	_, user := h.created("/Users", `{"userName":"inm@example.com"}`)
	_, group := h.created("/Groups", `{"displayName":"inm"}`)
	for _, path := range []string{user, group} {
		code, _, hdr := h.scim("GET", path, "")
		if code != http.StatusOK || hdr.Get("ETag") == "" {
			t.Fatalf("GET %s: %d %v", path, code, hdr)
		}
		for _, fields := range [][]string{{`W/"0000000000000000"`, hdr.Get("ETag")}, {"", hdr.Get("ETag")}} {
			req := httptest.NewRequest("GET", SCIMPrefix+path, nil)
			req.Header.Set("Authorization", "Bearer "+testSCIMToken)
			for _, v := range fields {
				req.Header.Add("If-None-Match", v)
			}
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified {
				t.Errorf("GET %s, If-None-Match %q: %d, want 304", path, fields, rec.Code)
			}
		}
		// None current: the resource.
		if code, _, _ := h.scim("GET", path, "", "If-None-Match", `W/"0000000000000000"`); code != http.StatusOK {
			t.Errorf("GET %s with a stale If-None-Match: %d, want 200", path, code)
		}
	}
}
