package adapter

import (
	"net/http"
	"testing"
)

// TestPatchPathNotString: a PATCH operation whose path is not a string (a
// number, an object, an array: a client's template gone wrong) was read as an operation
// without a path, its value applied to the resource's top level: {"op":"replace",
// "path":5,"value":{"active":false}} disabled the user, and a group's took the value's
// displayName. It is 400 invalidPath, nothing changed; a path of null is still none, and
// an op that is not a string is 400 invalidSyntax naming it.
func TestPatchPathNotString(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"pp@example.com"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, u)
	}
	user := "/Users/" + u["id"].(string)
	code, g, _ := h.scim("POST", "/Groups", `{"displayName":"pp"}`)
	if code != http.StatusCreated {
		t.Fatalf("create group: %d %v", code, g)
	}
	group := "/Groups/" + g["id"].(string)
	for _, c := range []struct{ path, body, typ string }{
		{user, `{"Operations":[{"op":"replace","path":5,"value":{"active":false}}]}`, "invalidPath"},
		{user, `{"Operations":[{"op":"replace","path":["displayName"],"value":{"active":false}}]}`, "invalidPath"},
		{user, `{"Operations":[{"op":"remove","path":{"a":1}}]}`, "invalidPath"},
		{user, `{"Operations":[{"op":true,"path":"active","value":false}]}`, "invalidSyntax"},
		{group, `{"Operations":[{"op":"replace","path":7,"value":{"displayName":"other"}}]}`, "invalidPath"},
	} {
		code, out, _ := h.scim("PATCH", c.path, c.body)
		if code != http.StatusBadRequest || out["scimType"] != c.typ {
			t.Errorf("PATCH %s %s: %d %v, want 400 %s", c.path, c.body, code, out, c.typ)
		}
	}
	if _, out, _ := h.scim("GET", user, ""); out["active"] != true {
		t.Errorf("the user was changed by a refused PATCH: %v", out)
	}
	if _, out, _ := h.scim("GET", group, ""); out["displayName"] != "pp" {
		t.Errorf("the group was changed by a refused PATCH: %v", out)
	}
	// A null path is none: the value's attributes apply.
	if code, out, _ := h.scim("PATCH", user, `{"Operations":[{"op":"replace","path":null,"value":{"displayName":"Null Path"}}]}`); code != http.StatusOK || out["displayName"] != "Null Path" {
		t.Errorf("path null: %d %v", code, out)
	}
}
