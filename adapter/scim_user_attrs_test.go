package adapter

import "testing"

// TestSCIMClearTheLastAttributes: removing the last of externalId, name.givenName and
// name.familyName clears it, and an Okta PUT that omits all three clears them: a user
// whose SCIM attributes are all gone is told so, not left as it was.
func TestSCIMClearTheLastAttributes(t *testing.T) {
	h := newSyncHarness(t)
	_, u, _ := h.scim("POST", "/Users", `{"userName":"ann","name":{"givenName":"Ann"}}`)
	id := u["id"].(string)
	code, out, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[{"op":"remove","path":"name.givenName"}]}`)
	if rec, _ := h.user("ann"); code != 200 || out["name"] != nil || len(rec.Attributes) != 0 {
		t.Errorf("remove name.givenName: %d %v, attributes %v", code, out, rec.Attributes)
	}
	if code, out, _ := h.scim("GET", "/Users/"+id, ""); code != 200 || out["name"] != nil {
		t.Errorf("after the remove: %d %v", code, out)
	}
	h.scim("PUT", "/Users/"+id, `{"userName":"ann","externalId":"e-1","name":{"givenName":"Ann","familyName":"Lee"}}`)
	code, out, _ = h.scim("PUT", "/Users/"+id, `{"userName":"ann","active":true}`)
	if rec, _ := h.user("ann"); code != 200 || out["name"] != nil || out["externalId"] != nil || len(rec.Attributes) != 0 {
		t.Errorf("PUT without them: %d %v, attributes %v", code, out, rec.Attributes)
	}
}
