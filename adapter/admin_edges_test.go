package adapter

import (
	"slices"
	"strings"
	"testing"
)

// TestAdminBodyNotUTF8: a body whose bytes are not UTF-8 (a name typed in a
// Latin-1 terminal, a file saved as Windows-1252) is refused 400, not read with U+FFFD in
// place of the bytes: "jos\xe9" created a user "jos\uFFFD", whom no later call naming
// "josé" finds, as the import refuses such a row (lifecycle.notUTF8).
func TestAdminBodyNotUTF8(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", "{\"name\":\"jos\xe9\"}"); code != 400 {
		t.Errorf("create jos\\xe9: %d %v, want 400", code, out)
	} else if c, _ := errorCode(out); c != "invalid_json" {
		t.Errorf("create jos\\xe9: %v, want invalid_json", out)
	}
	if _, out := h.admin(t, h.read, "GET", "/admin/v1/users", ""); len(out["users"].([]any)) != 0 {
		t.Errorf("a user was created: %v", out)
	}
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	if code, out := h.admin(t, h.write, "PATCH", "/admin/v1/users/alice", "{\"displayName\":\"Ren\xe9\"}"); code != 400 {
		t.Errorf("displayName Ren\\xe9: %d %v, want 400", code, out)
	}
	if _, out := h.admin(t, h.read, "GET", "/admin/v1/users/alice", ""); out["displayName"] != nil {
		t.Errorf("displayName set: %v", out)
	}
}

// TestMethodNotAllowedAllow: a wrong method's 405 lists in Allow the methods the
// route takes, and OPTIONS is none of them (refuseOptions answers it 405 too): echo's
// own Allow named it, on the admin API and the contract alike, sending a client that
// follows it to another 405.
func TestMethodNotAllowedAllow(t *testing.T) {
	h := newAdminHarness(t)
	for _, r := range []struct{ method, path, want string }{
		{"PUT", "/admin/v1/users", "GET, POST"},
		{"HEAD", "/admin/v1/users/alice", "DELETE, GET, PATCH"},
		{"DELETE", "/v1/providers/acme/initiate", "POST"},
		{"POST", "/healthz", "GET"},
	} {
		code, body, hdr := h.do(t, r.method, r.path, "", "Authorization", "Bearer "+h.write)
		allow := strings.Split(hdr.Get("Allow"), ", ")
		slices.Sort(allow)
		if code != 405 || strings.Join(allow, ", ") != r.want {
			t.Errorf("%s %s: %d %s, Allow %q; want 405, Allow %s", r.method, r.path, code, body, hdr.Get("Allow"), r.want)
		}
	}
}

// TestAdminBodyOnBodilessRoute: a route whose operation takes no body (the document
// has no requestBody) refuses one that says something, as a query parameter it does not
// take is refused: {"prefix":"a"} on GET /users listed everyone, {"reason":"left"} on a
// disable was dropped, each answered 2xx. No body, white space, {} and null still pass.
func TestAdminBodyOnBodilessRoute(t *testing.T) {
	h := newAdminHarness(t)
	for _, n := range []string{"alice", "bob"} {
		if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"`+n+`"}`); code != 201 {
			t.Fatalf("create %s: %d %v", n, code, out)
		}
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/admin/v1/users", `{"prefix":"a"}`},
		{"GET", "/admin/v1/users/alice", `{"x":1}`},
		{"POST", "/admin/v1/users/alice/disable", `{"reason":"left"}`},
		{"DELETE", "/admin/v1/users/bob", `{"force":true}`},
		{"POST", "/admin/v1/users/alice/enable", `[1]`},
	} {
		code, out := h.admin(t, h.write, r.method, r.path, r.body)
		if c, _ := errorCode(out); code != 400 || (c != "unknown_field" && c != "invalid_json") {
			t.Errorf("%s %s %s: %d %v, want 400 unknown_field or invalid_json", r.method, r.path, r.body, code, out)
		}
	}
	if _, out := h.admin(t, h.read, "GET", "/admin/v1/users/alice", ""); out["state"] != "active" {
		t.Errorf("alice was disabled: %v", out)
	}
	if code, out := h.admin(t, h.read, "GET", "/admin/v1/users/bob", ""); code != 200 {
		t.Errorf("bob was deleted: %d %v", code, out)
	}
	for _, body := range []string{"", " \n", "{}", "null"} {
		if code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/disable", body); code != 200 {
			t.Errorf("disable with body %q: %d %v", body, code, out)
		}
	}
}
