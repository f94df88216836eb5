package adapter

import (
	"net/http"
	"testing"
)

// TestAttrNames: a refused write named the attribute as the path was read, in
// lower case ("username must be a string"), and a sub-attribute by its parent alone: a
// givenName that is not a string was answered "name must be a string". The detail names
// the attribute as the schema spells it, sub-attribute and all.
func TestAttrNames(t *testing.T) {
	h := newSyncHarness(t)
	_, user := h.created("/Users", `{"userName":"an@example.com"}`)
	_, group := h.created("/Groups", `{"displayName":"an"}`)
	for _, c := range []struct{ path, body, want string }{
		{user, `{"Operations":[{"op":"replace","path":"userName","value":5}]}`, "userName must be a string"},
		{user, `{"Operations":[{"op":"replace","path":"externalId","value":true}]}`, "externalId must be a string"},
		{user, `{"Operations":[{"op":"replace","path":"displayName","value":[]}]}`, "displayName must be a string"},
		{user, `{"Operations":[{"op":"replace","path":"name.givenName","value":5}]}`, "name.givenName must be a string"},
		{user, `{"Operations":[{"op":"replace","path":"name","value":{"familyName":5}}]}`, "name.familyName must be a string"},
		{group, `{"Operations":[{"op":"remove","path":"displayName"}]}`, "cannot remove displayName"},
	} {
		code, out, _ := h.scim("PATCH", c.path, c.body)
		if code != http.StatusBadRequest || out["detail"] != c.want {
			t.Errorf("PATCH %s: %d %v, want 400 %q", c.body, code, out["detail"], c.want)
		}
	}
}
