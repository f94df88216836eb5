package adapter

import (
	"fmt"
	"net/http"
	"testing"
)

// TestPatchMissingValue: RFC 7644 §3.5.2.1 and §3.5.2.3 say an add or replace
// MUST hold a value. One without it was read as a value of null: {"op":"replace",
// "path":"members"} emptied the group, and {"op":"replace","path":"displayName"}
// cleared the user's display name, a garbled operation losing data. It is 400
// invalidSyntax, nothing changed; an explicit null is still the attribute unassigned.
func TestPatchMissingValue(t *testing.T) {
	h := newSyncHarness(t)
	u, user := h.created("/Users", `{"userName":"pv@example.com","displayName":"Pat V"}`)
	id := u["id"].(string)
	_, group := h.created("/Groups", fmt.Sprintf(`{"displayName":"pv","members":[{"value":%q}]}`, id))
	for _, c := range []struct{ path, body string }{
		{user, `{"Operations":[{"op":"replace","path":"displayName"}]}`},
		{user, `{"Operations":[{"op":"Add","path":"emails"}]}`},
		{user, `{"Operations":[{"op":"replace"}]}`},
		{group, `{"Operations":[{"op":"replace","path":"members"}]}`},
		{group, `{"Operations":[{"op":"add","path":"externalId"}]}`},
	} {
		code, out, _ := h.scim("PATCH", c.path, c.body)
		if code != http.StatusBadRequest || out["scimType"] != "invalidSyntax" {
			t.Errorf("PATCH %s %s: %d %v, want 400 invalidSyntax", c.path, c.body, code, out)
		}
	}
	if _, out, _ := h.scim("GET", user, ""); out["displayName"] != "Pat V" {
		t.Errorf("the user was changed by a refused PATCH: %v", out)
	}
	if got := membersOf(t, h, group); len(got) != 1 {
		t.Errorf("the group's members after a refused PATCH: %v, want pv@example.com", got)
	}
	// An explicit null unassigns.
	if code, out, _ := h.scim("PATCH", user, `{"Operations":[{"op":"replace","path":"displayName","value":null}]}`); code != http.StatusOK || out["displayName"] != nil {
		t.Errorf("replace with null: %d %v", code, out)
	}
}
