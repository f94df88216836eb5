package adapter

import "testing"

// TestSCIMSubAttributeNamesAnyCase: attribute names are case-insensitive (RFC 7643
// §2.1), sub-attributes of a multi-valued attribute too. An e-mail sent as
// {"Value": …, "Type": "work"} sets the address rather than clearing it, an address's
// "Country" sets the country, and a member sent as {"Value": id} is added.
func TestSCIMSubAttributeNamesAnyCase(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"ann@example.com","emails":[{"value":"ann@example.com","type":"work"}]}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	code, u, _ = h.scim("PATCH", "/Users/"+id, `{"Operations":[
	 {"op":"replace","path":"emails","value":[{"Value":"ann.b@example.com","Type":"work","Primary":true}]},
	 {"op":"replace","path":"addresses","value":[{"Country":"PT","Type":"work"}]}]}`)
	if code != 200 {
		t.Fatalf("patch: %d %v", code, u)
	}
	if rec, _ := h.user("ann@example.com"); rec.Email != "ann.b@example.com" || rec.Country != "PT" {
		t.Errorf("stored email %q, country %q", rec.Email, rec.Country)
	}
	code, g, _ := h.scim("POST", "/Groups", `{"displayName":"Sales","members":[{"Value":"`+id+`"}]}`)
	if code != 201 {
		t.Fatalf("group: %d %v", code, g)
	}
	if ms, _ := g["members"].([]any); len(ms) != 1 {
		t.Errorf("members %v", g["members"])
	}
}
