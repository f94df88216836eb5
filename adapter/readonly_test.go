package adapter

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// TestReadOnlyPatch: a PATCH whose path names a read-only attribute (RFC 7643:
// id, meta, and a user's groups, which a group's members set) was answered 200 and changed
// nothing: a client adding a user to a group through the user's groups was told it had
// done so. RFC 7644 §3.5.2: a client MUST NOT modify a readOnly attribute; it is 400
// mutability. A PUT, and a path-less PATCH whose value carries them (the resource as
// read, Okta's group rename with its id), still ignore them (§3.5.1: SHALL be ignored).
func TestReadOnlyPatch(t *testing.T) {
	h := newSyncHarness(t)
	_, user := h.created("/Users", `{"userName":"ro@example.com","displayName":"Ro"}`)
	g, group := h.created("/Groups", `{"displayName":"ro"}`)
	gid := g["id"].(string)
	for _, c := range []struct{ path, body string }{
		{user, fmt.Sprintf(`{"Operations":[{"op":"add","path":"groups","value":[{"value":%q}]}]}`, gid)},
		{user, `{"Operations":[{"op":"replace","path":"groups","value":[]}]}`},
		{user, `{"Operations":[{"op":"remove","path":"groups[value eq \"` + gid + `\"]"}]}`},
		{user, `{"Operations":[{"op":"replace","path":"id","value":"other"}]}`},
		{user, `{"Operations":[{"op":"replace","path":"meta.version","value":"x"}]}`},
		{user, `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:groups","value":[]}]}`},
		{group, `{"Operations":[{"op":"replace","path":"id","value":"other"}]}`},
		{group, `{"Operations":[{"op":"add","path":"meta","value":{"version":"x"}}]}`},
	} {
		code, out, _ := h.scim("PATCH", c.path, c.body)
		if code != http.StatusBadRequest || out["scimType"] != "mutability" {
			t.Errorf("PATCH %s %s: %d %v, want 400 mutability", c.path, c.body, code, out)
		}
	}
	if got := membersOf(t, h, group); len(got) != 0 {
		t.Errorf("the group's members: %v, want none", got)
	}
	// The resource as read, sent back whole, and a path-less value with the id: ignored.
	code, cur, _ := h.scim("GET", user, "")
	if code != http.StatusOK {
		t.Fatalf("get: %d %v", code, cur)
	}
	cur["groups"] = []any{map[string]any{"value": gid}}
	cur["displayName"] = "Ro 2"
	body, err := json.Marshal(cur)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := h.scim("PUT", user, string(body)); code != http.StatusOK || out["displayName"] != "Ro 2" {
		t.Errorf("PUT with groups: %d %v", code, out)
	}
	if code, out, _ := h.scim("PATCH", user, `{"Operations":[{"op":"replace","value":{"id":"x","groups":[],"displayName":"Ro 3"}}]}`); code != http.StatusOK || out["displayName"] != "Ro 3" {
		t.Errorf("path-less PATCH with id and groups: %d %v", code, out)
	}
	if code, out, _ := h.scim("PATCH", group, fmt.Sprintf(`{"Operations":[{"op":"replace","value":{"id":%q,"displayName":"ro2"}}]}`, gid)); code != http.StatusOK || out["displayName"] != "ro2" {
		t.Errorf("Okta's group rename: %d %v", code, out)
	}
}
