package adapter

import (
	"net/url"
	"testing"
)

// TestAdminUserNameDecodedOnce: a user name in an admin path is decoded once. A
// name holding a percent sign ("a%41"), sent escaped as a%2541, names that user, not the
// one its second decoding would name ("aA"), whose deletion it must never be; a name
// holding a slash, sent as %2F, still names its user.
func TestAdminUserNameDecodedOnce(t *testing.T) {
	h := newAdminHarness(t)
	for _, name := range []string{"a%41", "aA", "x/y"} {
		if code, b := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"`+name+`"}`); code != 201 {
			t.Fatalf("create %q: %d %v", name, code, b)
		}
	}
	for _, name := range []string{"a%41", "aA", "x/y"} {
		code, b := h.admin(t, h.write, "GET", AdminPrefix+"/users/"+url.PathEscape(name), "")
		if code != 200 || b["name"] != name {
			t.Errorf("GET %q: %d %v", name, code, b)
		}
	}
	if code, b := h.admin(t, h.write, "DELETE", AdminPrefix+"/users/"+url.PathEscape("a%41"), ""); code != 204 {
		t.Fatalf("delete: %d %v", code, b)
	}
	if code, b := h.admin(t, h.write, "GET", AdminPrefix+"/users/aA", ""); code != 200 {
		t.Errorf("aA after the deletion of a%%41: %d %v", code, b)
	}
	if code, b := h.admin(t, h.write, "GET", AdminPrefix+"/users/"+url.PathEscape("a%41"), ""); code != 404 {
		t.Errorf("a%%41 after its deletion: %d %v", code, b)
	}
}
