package adapter

import (
	"net/url"
	"testing"
)

// schemaAttr finds the attribute name of the schema id in a /Schemas answer.
func schemaAttr(t *testing.T, list map[string]any, id, name string) map[string]any {
	t.Helper()
	rs, _ := list["Resources"].([]any)
	for _, r := range rs {
		s := r.(map[string]any)
		if s["id"] != id {
			continue
		}
		for _, a := range s["attributes"].([]any) {
			if a := a.(map[string]any); a["name"] == name {
				return a
			}
		}
	}
	t.Fatalf("no attribute %s in schema %s", name, id)
	return nil
}

// TestSCIMSchemasSayWhatIsTrue: /Schemas says how each attribute is compared and how
// unique it is as the server does it: a group's displayName is exact (emfa's group names
// are, in a user's groups and in policies) and unique on the server; a user's displayName
// is matched in any case, its externalId exactly (RFC 7643 §3.1). Each schema and
// resource type is served at its own id too (RFC 7644 §4).
func TestSCIMSchemasSayWhatIsTrue(t *testing.T) {
	h := newSyncHarness(t)
	_, list, _ := h.scim("GET", "/Schemas", "")
	for _, c := range []struct {
		id, attr  string
		caseExact bool
		unique    string
	}{
		{scimGroupSchema, "displayName", true, "server"},
		{scimGroupSchema, "externalId", true, "none"},
		{scimUserSchema, "displayName", false, "none"},
		{scimUserSchema, "externalId", true, "none"},
		{scimUserSchema, "userName", false, "server"},
	} {
		a := schemaAttr(t, list, c.id, c.attr)
		if a["caseExact"] != c.caseExact || a["uniqueness"] != c.unique {
			t.Errorf("%s %s: caseExact %v uniqueness %v, want %v %v", c.id, c.attr, a["caseExact"], a["uniqueness"], c.caseExact, c.unique)
		}
	}
	h.scim("POST", "/Users", `{"userName":"dana","displayName":"Dana S"}`)
	if code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(`displayName eq "dana s"`), ""); code != 200 || list["totalResults"] != float64(1) {
		t.Errorf("user displayName in another case: %d %v", code, list["totalResults"])
	}
	for path, want := range map[string]int{
		"/Schemas/" + scimUserSchema: 200, "/Schemas/" + scimGroupSchema: 200, "/Schemas/urn:nope": 404,
		"/ResourceTypes/User": 200, "/ResourceTypes/Group": 200, "/ResourceTypes/Nope": 404,
	} {
		code, out, _ := h.scim("GET", path, "")
		if code != want || (code == 200 && out["id"] == nil) {
			t.Errorf("GET %s: %d %v, want %d", path, code, out, want)
		}
	}
}

// TestSCIMGroupExternalIDIsAString: a group externalId that is not a string is refused,
// as a user's is, not silently cleared.
func TestSCIMGroupExternalIDIsAString(t *testing.T) {
	h := newSyncHarness(t)
	if code, out, _ := h.scim("POST", "/Groups", `{"displayName":"g","externalId":5}`); code != 400 || out["scimType"] != "invalidValue" {
		t.Errorf("POST with a number for externalId: %d %v, want 400 invalidValue", code, out)
	}
	_, u, _ := h.scim("POST", "/Users", `{"userName":"ann"}`)
	code, g, _ := h.scim("POST", "/Groups", `{"displayName":"g","externalId":"e","members":[{"value":"`+u["id"].(string)+`"}]}`)
	if code != 201 {
		t.Fatalf("POST: %d %v", code, g)
	}
	path := "/Groups/" + g["id"].(string)
	for _, req := range [][2]string{
		{"PUT", `{"displayName":"g","externalId":{"x":1}}`},
		{"PATCH", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"externalId","value":5}]}`},
		{"PATCH", `{` + patchSchema + `,"Operations":[{"op":"replace","value":{"externalId":true}}]}`},
	} {
		if code, out, _ := h.scim(req[0], path, req[1]); code != 400 || out["scimType"] != "invalidValue" {
			t.Errorf("%s %s: %d %v, want 400 invalidValue", req[0], req[1], code, out)
		}
	}
	if _, got, _ := h.scim("GET", path, ""); got["externalId"] != "e" {
		t.Errorf("externalId after the refusals: %v", got["externalId"])
	}
}
