package adapter

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestIfMatchFields: If-Match may list entity tags in one field or in several
// (RFC 9110 §5.3, §13.1.1), any one of which matching lets the write through. SCIM read
// the first field alone: a PATCH, PUT or DELETE whose second If-Match field named the
// current version was refused 412 however often the directory read the resource again,
// and a DELETE whose first field was empty was made unconditionally. A list none of whose
// tags is current is still 412, nothing changed.
func TestIfMatchFields(t *testing.T) {
	h := newSyncHarness(t)
	send := func(method, path, body string, ifMatch ...string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, SCIMPrefix+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testSCIMToken)
		req.Header.Set("Content-Type", scimContentType)
		for _, v := range ifMatch {
			req.Header.Add("If-Match", v)
		}
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	etag := func(path string) string {
		t.Helper()
		code, _, hdr := h.scim("GET", path, "")
		if code != http.StatusOK || hdr.Get("ETag") == "" {
			t.Fatalf("GET %s: %d %v", path, code, hdr)
		}
		return hdr.Get("ETag")
	}
	code, u, _ := h.scim("POST", "/Users", `{"userName":"ifm@example.com"}`)
	if code != http.StatusCreated {
		t.Fatalf("create user: %d %v", code, u)
	}
	user := "/Users/" + u["id"].(string)
	code, g, _ := h.scim("POST", "/Groups", `{"displayName":"ifm"}`)
	if code != http.StatusCreated {
		t.Fatalf("create group: %d %v", code, g)
	}
	group := "/Groups/" + g["id"].(string)
	stale := `W/"0000000000000000"`

	patch := `{"Operations":[{"op":"replace","path":"displayName","value":"%s"}]}`
	for _, path := range []string{user, group} {
		name := strings.TrimPrefix(path, "/")[:5]
		// A list without the current version, in two fields: 412, nothing changed.
		before := etag(path)
		if code, out := send("PATCH", path, strings.Replace(patch, "%s", "nope", 1), stale, `W/"1111111111111111"`); code != http.StatusPreconditionFailed {
			t.Errorf("%s: PATCH with two stale fields: %d %v, want 412", name, code, out)
		}
		if after := etag(path); after != before {
			t.Errorf("%s: a refused PATCH changed the version", name)
		}
		// The current version in the second field: applies.
		if code, out := send("PATCH", path, strings.Replace(patch, "%s", "second-field", 1), stale, before); code != http.StatusOK {
			t.Errorf("%s: PATCH with the current version in the second If-Match field: %d %v, want 200", name, code, out)
		}
		// A list in one field still works.
		cur := etag(path)
		if code, out := send("PATCH", path, strings.Replace(patch, "%s", "one-field", 1), stale+", "+cur); code != http.StatusOK {
			t.Errorf("%s: PATCH with a list in one field: %d %v, want 200", name, code, out)
		}
	}
	// PUT too.
	cur := etag(user)
	if code, out := send("PUT", user, `{"userName":"ifm@example.com","displayName":"put"}`, stale, cur); code != http.StatusOK {
		t.Errorf("PUT with the current version in the second If-Match field: %d %v, want 200", code, out)
	}
	// A DELETE whose first field is empty and whose second is stale is conditional: 412,
	// nothing deleted.
	for _, path := range []string{user, group} {
		if code, out := send("DELETE", path, "", "", stale); code != http.StatusPreconditionFailed {
			t.Errorf("DELETE %s with an empty field and a stale one: %d %v, want 412", path, code, out)
		}
		if code, _, _ := h.scim("GET", path, ""); code != http.StatusOK {
			t.Fatalf("%s deleted by a DELETE whose If-Match did not hold: %d", path, code)
		}
		if code, out := send("DELETE", path, "", stale, etag(path)); code != http.StatusNoContent {
			t.Errorf("DELETE %s with the current version in the second field: %d %v, want 204", path, code, out)
		}
	}
}
