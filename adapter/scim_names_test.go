package adapter

import (
	"fmt"
	"strings"
	"testing"
)

// TestSCIMGroupNamesAUserCanHold: a group displayName a user's profile could not hold
// (over 256 bytes, control characters, spaces around it) is refused at POST, PUT and
// PATCH, 400 invalidValue naming displayName, rather than created for every member add
// to fail; a bad userName is refused naming userName, the attribute the caller sent.
func TestSCIMGroupNamesAUserCanHold(t *testing.T) {
	h := newSyncHarness(t)
	_, g, _ := h.scim("POST", "/Groups", `{"displayName":"ok"}`)
	path := "/Groups/" + g["id"].(string)
	for _, name := range []string{strings.Repeat("x", 300), "a\tb", " lead", "trail "} {
		q := fmt.Sprintf("%q", name)
		for _, req := range [][3]string{
			{"POST", "/Groups", `{"displayName":` + q + `}`},
			{"PUT", path, `{"displayName":` + q + `}`},
			{"PATCH", path, `{` + patchSchema + `,"Operations":[{"op":"replace","path":"displayName","value":` + q + `}]}`},
		} {
			code, out, _ := h.scim(req[0], req[1], req[2])
			detail, _ := out["detail"].(string)
			if code != 400 || out["scimType"] != "invalidValue" || !strings.HasPrefix(detail, "displayName") {
				t.Errorf("%s %q: %d %v, want 400 invalidValue on displayName", req[0], name, code, out)
			}
		}
	}
	if _, list, _ := h.scim("GET", "/Groups", ""); list["totalResults"] != float64(1) {
		t.Errorf("groups after the refusals: %v", list["Resources"])
	}
	code, out, _ := h.scim("POST", "/Users", `{"userName":" pat"}`)
	if detail, _ := out["detail"].(string); code != 400 || out["scimType"] != "invalidValue" || !strings.HasPrefix(detail, "userName") {
		t.Errorf("a userName with a space: %d %v, want 400 invalidValue on userName", code, out)
	}
}
