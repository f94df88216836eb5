package adapter

import "testing"

// TestSchemaGroups: a user's groups are shown (RFC 7643 §4.1.2) and a PATCH of
// them is 400 mutability, but /Schemas did not list the attribute, so a client reading
// the schema could not learn it is there, nor that it is read-only. It is listed,
// multi-valued, readOnly, its value (a group's id) compared exactly.
func TestSchemaGroups(t *testing.T) {
	h := newSyncHarness(t)
	_, list, _ := h.scim("GET", "/Schemas", "")
	a := schemaAttr(t, list, scimUserSchema, "groups")
	if a["mutability"] != "readOnly" || a["multiValued"] != true || a["type"] != "complex" {
		t.Errorf("groups: %v, want complex, multi-valued, readOnly", a)
	}
	subs, _ := a["subAttributes"].([]any)
	if len(subs) != 2 {
		t.Fatalf("groups' sub-attributes: %v", subs)
	}
	for _, s := range subs {
		if s := s.(map[string]any); s["mutability"] != "readOnly" {
			t.Errorf("groups.%s: mutability %v, want readOnly", s["name"], s["mutability"])
		}
	}
}
