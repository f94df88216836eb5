package adapter

import (
	"testing"
)

// TestUserObjectKeysInOneOrder: a user's whole resource (POST, PUT) or a PATCH operation
// without a path sets each of its keys as a path (applyObject). It took them in the map's
// order, which Go varies from one range to the next: where two keys name one attribute
// (displayName and its URN form) the value kept was either, and where two keys are
// invalid the refusal named either. Both are now the same each time.
func TestUserObjectKeysInOneOrder(t *testing.T) {
	const urn = "urn:ietf:params:scim:schemas:core:2.0:User:"
	var kept, refused string
	for i := range 64 {
		m := scimUser{userName: "alice", active: true}
		if err := m.applyObject("replace", map[string]any{"displayName": "Alice A", urn + "displayName": "Alice B"}); err != nil {
			t.Fatal(err)
		}
		err := (&scimUser{userName: "alice"}).applyObject("replace", map[string]any{"displayName": 5, "active": "maybe", "emails": 7})
		if err == nil {
			t.Fatal("invalid values accepted")
		}
		if i == 0 {
			kept, refused = m.displayName, err.Error()
			continue
		}
		if m.displayName != kept || err.Error() != refused {
			t.Fatalf("try %d kept %q refused %q; the first kept %q refused %q", i, m.displayName, err, kept, refused)
		}
	}
}
