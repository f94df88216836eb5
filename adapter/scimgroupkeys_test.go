package adapter

import "testing"

// TestSCIMGroupPathlessKeysAsPaths: a path-less PATCH of a group reads each key of
// its value as a path, as a user's does (RFC 7644 §3.5.2: an attribute may be named by
// its schema's URN): a fully qualified displayName renames the group rather than being
// answered 200 and dropped, and a key naming a part of an attribute is refused as its
// path would be.
func TestSCIMGroupPathlessKeysAsPaths(t *testing.T) {
	h := newSyncHarness(t)
	_, u, _ := h.scim("POST", "/Users", `{"userName":"ann@example.com"}`)
	uid := u["id"].(string)
	code, g, _ := h.scim("POST", "/Groups", `{"displayName":"Sales"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, g)
	}
	gid := g["id"].(string)
	code, g, _ = h.scim("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
	 {"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:Group:displayName":"Field Sales",
	   "urn:ietf:params:scim:schemas:core:2.0:Group:members":[{"value":"`+uid+`"}]}}]}`)
	if code != 200 || g["displayName"] != "Field Sales" {
		t.Fatalf("qualified displayName: %d %v", code, g)
	}
	if ms, _ := g["members"].([]any); len(ms) != 1 {
		t.Fatalf("qualified members: %v", g)
	}
	code, e, _ := h.scim("PATCH", "/Groups/"+gid, `{"Operations":[{"op":"replace","value":{"members[value eq \"`+uid+`\"].display":"x"}}]}`)
	if code != 400 || e["scimType"] != "invalidPath" {
		t.Fatalf("a part of a member: %d %v", code, e)
	}
	if _, g, _ = h.scim("GET", "/Groups/"+gid, ""); g["displayName"] != "Field Sales" {
		t.Fatalf("after the refusal: %v", g)
	}
}
