package adapter

import (
	"net/http"
	"testing"
)

// TestQueryUnreadablePair: a query pair Go's parser cannot read (a ';', which
// it no longer takes as a separator, or a '%' not followed by two hex digits) was
// dropped from the parameters without a word, so the route ran as if it had not been
// sent: ?prefix=%zz and ?state=disabled;limit=1 listed every user, ?outcome=FAILED;x=1
// every event, and an import whose ?dryRun=true ended in a stray ';' applied the file.
// Such a query is refused 400 invalid_parameter, naming the parameter, as a parameter
// the route does not take is (README: Query parameters are checked, never ignored).
func TestQueryUnreadablePair(t *testing.T) {
	h := newAdminHarness(t)
	for _, name := range []string{"alice", "bob"} {
		if code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"`+name+`"}`); code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, out)
		}
	}
	for _, tc := range []struct{ method, path, body, field string }{
		{"GET", "/users?prefix=%zz", "", "prefix"},
		{"GET", "/users?state=disabled;limit=1", "", "state"},
		{"GET", "/users?limit=1&prefix=al%", "", "prefix"},
		{"GET", "/audit?outcome=FAILED;x=1", "", "outcome"},
		{"GET", "/openapi.json?x=%zz", "", "x"},
		{"POST", "/import?format=csv&dryRun=true;", "username\ncarol\n", "dryRun"},
		{"POST", "/import?format=csv&dryRun=true&%zz=1", "username\ndave\n", "%zz"},
	} {
		token := h.write
		if tc.path == "/openapi.json?x=%zz" {
			token = ""
		}
		code, out := h.admin(t, token, tc.method, AdminPrefix+tc.path, tc.body)
		if got, field := errorCode(out); code != http.StatusBadRequest || got != "invalid_parameter" || field != tc.field {
			t.Errorf("%s %s: %d %v, want 400 invalid_parameter %s", tc.method, tc.path, code, out, tc.field)
		}
	}
	code, out := h.admin(t, h.write, "GET", AdminPrefix+"/users", "")
	if users, _ := out["users"].([]any); code != http.StatusOK || len(users) != 2 {
		t.Errorf("users after the refused imports: %d %v, want alice and bob only", code, out)
	}
	// A query Go reads whole is as before: an empty pair, a key without a value.
	if code, out := h.admin(t, h.write, "GET", AdminPrefix+"/users?&prefix=al&&", ""); code != http.StatusOK || len(out["users"].([]any)) != 1 {
		t.Errorf("an empty pair: %d %v", code, out)
	}
}
