package adapter

import (
	"net/url"
	"testing"
)

// TestSCIMFilterQualifiedAttribute: a filter may name an attribute by its schema's
// URN (RFC 7644 §3.4.2.2, §3.10): it matches as the short name does, for users and
// groups, rather than being refused invalidFilter.
func TestSCIMFilterQualifiedAttribute(t *testing.T) {
	h := newSyncHarness(t)
	if code, u, _ := h.scim("POST", "/Users", `{"userName":"ann@example.com","externalId":"e-1"}`); code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	if code, g, _ := h.scim("POST", "/Groups", `{"displayName":"Sales"}`); code != 201 {
		t.Fatalf("create group: %d %v", code, g)
	}
	for _, c := range []struct{ path, filter string }{
		{"/Users", `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann@example.com"`},
		{"/Users", `URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:externalId eq "e-1" and userName eq "ann@example.com"`},
		{"/Groups", `urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Sales"`},
	} {
		code, list, _ := h.scim("GET", c.path+"?filter="+url.QueryEscape(c.filter), "")
		if code != 200 || list["totalResults"] != float64(1) {
			t.Errorf("%s %s: %d %v", c.path, c.filter, code, list)
		}
	}
	// Another schema's attribute is not the core one of the same name.
	f := `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName eq "ann@example.com"`
	if code, e, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(f), ""); code != 400 || e["scimType"] != "invalidFilter" {
		t.Errorf("an extension's attribute: %d %v", code, e)
	}
}
