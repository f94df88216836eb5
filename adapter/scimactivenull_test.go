package adapter

import "testing"

// TestSCIMActiveNull: RFC 7643 §2.5 holds a null value the same as an unassigned
// attribute. "active": null in a POST is a user created as one without "active" is
// (active), and in a PUT keeps the state, as a PUT without it does; before, both were
// refused 400 invalidValue.
func TestSCIMActiveNull(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"nell@example.com","active":null}`)
	if code != 201 || u["active"] != true {
		t.Fatalf("create with active null: %d %v", code, u)
	}
	id := u["id"].(string)
	if code, u, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`); code != 200 || u["active"] != false {
		t.Fatalf("disable: %d %v", code, u)
	}
	code, u, _ = h.scim("PUT", "/Users/"+id, `{"userName":"nell@example.com","active":null,"displayName":"Nell"}`)
	if code != 200 || u["active"] != false || u["displayName"] != "Nell" {
		t.Fatalf("put with active null: %d %v, want the state kept", code, u)
	}
}
