package adapter

import (
	"net/http"
	"testing"
)

// TestIfMatchNoTag: an If-Match field that lists no entity tag (sent empty, or
// a stray comma: RFC 9110 §5.6.1.2's empty list elements, which a recipient ignores) is
// an If-Match of no tags, which no version matches (§13.1.1): 412, nothing written, on
// SCIM and on the admin API alike. SCIM took it for no If-Match and wrote unconditionally
// what the admin API refused 412; the admin API itself took `If-Match:` sent empty for
// none, and `If-Match: ,` for one.
func TestIfMatchNoTag(t *testing.T) {
	noTag := []string{"", " ", ",", " , , "}

	s := newSyncHarness(t)
	_, path := s.created("/Users", `{"userName":"d92@example.com"}`)
	for _, v := range noTag {
		code, out, _ := s.scim("PATCH", path, `{"Operations":[{"op":"replace","path":"displayName","value":"changed"}]}`, "If-Match", v)
		if code != http.StatusPreconditionFailed {
			t.Errorf("SCIM PATCH with If-Match %q: %d %v, want 412", v, code, out)
		}
	}
	if _, u, _ := s.scim("GET", path, ""); u["displayName"] != nil {
		t.Errorf("SCIM: a PATCH with an If-Match of no tag changed the user: %v", u["displayName"])
	}

	a := newAdminHarness(t)
	if code, out := a.admin(t, a.write, "POST", AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	for _, v := range noTag {
		code, text, _ := a.do(t, "PATCH", AdminPrefix+"/users/alice", `{"displayName":"changed"}`,
			"Authorization", "Bearer "+a.write, "Content-Type", "application/json", "If-Match", v)
		if code != http.StatusPreconditionFailed {
			t.Errorf("admin PATCH with If-Match %q: %d %s, want 412", v, code, text)
		}
		// A write that takes no If-Match refuses one that lists no tag as it refuses any.
		code, text, _ = a.do(t, "POST", AdminPrefix+"/users", `{"name":"bob"}`,
			"Authorization", "Bearer "+a.write, "Content-Type", "application/json", "If-Match", v)
		if code != http.StatusBadRequest {
			t.Errorf("admin POST /users with If-Match %q: %d %s, want 400 invalid_header", v, code, text)
		}
	}
	if code, out := a.admin(t, a.write, "GET", AdminPrefix+"/users/alice", ""); code != http.StatusOK || out["displayName"] == "changed" {
		t.Errorf("admin: a PATCH with an If-Match of no tag changed the user: %d %v", code, out)
	}
}
