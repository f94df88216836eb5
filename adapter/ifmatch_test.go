package adapter

import (
	"net/http"
	"testing"
)

// TestIfMatchOnlyWhereHonoured: a write that is not conditional (a factor's
// delete, a reset, an enrollment) refuses an If-Match rather than running regardless of
// it. Before, DELETE .../factors/{id} with the ETag of a user changed since deleted the
// factor: a script that read the user, then made its change conditional on what it read,
// had its change made whatever happened meanwhile.
func TestIfMatchOnlyWhereHonoured(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors", `{"type":"totp","activation":"immediate"}`)
	if code != http.StatusCreated {
		t.Fatalf("enroll: %d %v", code, out)
	}
	id, _ := out["factor"].(map[string]any)["id"].(string)
	_, _, hdr := h.do(t, "GET", "/admin/v1/users/alice", "", "Authorization", "Bearer "+h.write)
	stale := hdr.Get("ETag")
	if code, out := h.admin(t, h.write, "PATCH", "/admin/v1/users/alice", `{"displayName":"Alice"}`); code != http.StatusOK {
		t.Fatalf("patch: %d %v", code, out)
	}
	for _, c := range []struct{ method, path, body string }{
		{"DELETE", "/admin/v1/users/alice/factors/" + id, ""},
		{"POST", "/admin/v1/users/alice/reset", ""},
		{"POST", "/admin/v1/users/alice/factors/" + id + "/disable", ""},
		{"POST", "/admin/v1/users/alice/factors", `{"type":"totp","activation":"immediate"}`},
	} {
		code, _, _ := h.do(t, c.method, c.path, c.body, "Authorization", "Bearer "+h.write, "If-Match", stale)
		if code != http.StatusBadRequest {
			t.Errorf("%s %s with a stale If-Match: %d, want 400 (it takes no If-Match)", c.method, c.path, code)
		}
	}
	code, out = h.admin(t, h.write, "GET", "/admin/v1/users/alice/factors", "")
	if fs, _ := out["factors"].([]any); code != http.StatusOK || len(fs) != 1 || fs[0].(map[string]any)["state"] != "active" {
		t.Errorf("alice's factors after refused writes: %d %v, want the one factor, active", code, out)
	}
	// Where it is honoured, it still is: a stale tag is 412.
	if code, text, _ := h.do(t, "DELETE", "/admin/v1/users/alice", "", "Authorization", "Bearer "+h.write, "If-Match", stale); code != http.StatusPreconditionFailed {
		t.Errorf("DELETE user with a stale If-Match: %d %s, want 412", code, text)
	}
}
