package adapter

import (
	"strings"
	"testing"
)

// A body over the admin API's limit is answered 413 body_too_large on every route that
// takes one (README: Errors), and the document must list it for each (checkDocumentedStatus,
// through h.admin): a client generated from it has no branch for a status it does not list.
func TestAdminBodyTooLargeDocumented(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	big := `{"displayName":"` + strings.Repeat("x", 100<<10) + `"}`
	for _, r := range []struct{ method, path string }{
		{"POST", "/admin/v1/users"},
		{"PATCH", "/admin/v1/users/alice"},
		{"POST", "/admin/v1/users/alice/factors"},
		{"POST", "/admin/v1/users/alice/reset"},
	} {
		if code, out := h.admin(t, h.write, r.method, r.path, big); code != 413 {
			t.Errorf("%s %s with %d bytes: %d %v, want 413", r.method, r.path, len(big), code, out)
		}
	}
}
