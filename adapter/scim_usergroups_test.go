package adapter

import "testing"

// TestSCIMUserGroupsByID: a user's groups name each group by its id, with its name as
// display (RFC 7643 §4.1.2), so that a client can GET /Groups/{value}.
func TestSCIMUserGroupsByID(t *testing.T) {
	h := newSyncHarness(t)
	_, u, _ := h.scim("POST", "/Users", `{"userName":"ann"}`)
	_, g, _ := h.scim("POST", "/Groups", `{"displayName":"g","members":[{"value":"`+u["id"].(string)+`"}]}`)
	_, got, _ := h.scim("GET", "/Users/"+u["id"].(string), "")
	gs, _ := got["groups"].([]any)
	if len(gs) != 1 || gs[0].(map[string]any)["value"] != g["id"] || gs[0].(map[string]any)["display"] != "g" {
		t.Errorf("the user's groups %v, want [{value: %v, display: g}]", got["groups"], g["id"])
	}
}
