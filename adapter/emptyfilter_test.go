package adapter

import (
	"net/http"
	"testing"
)

// TestEmptyNameFilter: a filter that names a group, user, actor or request,
// given empty (?group=, as a script's "$GROUP" unset sends it), selected nothing and
// so listed everything: every user, every event, which a script then acts on as the
// group's members. No group, user, actor or request id is empty, so such a value is
// refused 400 invalid_parameter, as an empty ?state= or ?outcome= is; a parameter left
// out still lists everything, and an empty prefix or cursor is the first page of all.
func TestEmptyNameFilter(t *testing.T) {
	h := newAdminHarness(t)
	for _, name := range []string{"alice", "bob"} {
		if code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"`+name+`","groups":["`+name+`s"]}`); code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, out)
		}
	}
	for _, tc := range []struct{ path, field string }{
		{"/users?group=", "group"},
		{"/users?prefix=a&group=", "group"},
		{"/audit?user=", "user"},
		{"/audit?actor=", "actor"},
		{"/audit?requestId=", "requestId"},
	} {
		code, out := h.admin(t, h.read, "GET", AdminPrefix+tc.path, "")
		if got, field := errorCode(out); code != http.StatusBadRequest || got != "invalid_parameter" || field != tc.field {
			t.Errorf("GET %s: %d %v, want 400 invalid_parameter %s", tc.path, code, out, tc.field)
		}
	}
	for _, tc := range []struct {
		path string
		n    int
	}{{"/users?group=alices", 1}, {"/users?prefix=&cursor=", 2}, {"/users", 2}} {
		code, out := h.admin(t, h.read, "GET", AdminPrefix+tc.path, "")
		if users, _ := out["users"].([]any); code != http.StatusOK || len(users) != tc.n {
			t.Errorf("GET %s: %d %v, want %d users", tc.path, code, out, tc.n)
		}
	}
}
