package adapter

import (
	"net/url"
	"testing"
)

// TestSCIMFilterJSONEscapes: a filter's value is a JSON string (RFC 7644 §3.4.2.2,
// compValue per RFC 7159): `\/` and a character outside the BMP written as a surrogate
// pair are valid escapes a client may send, and must match rather than be refused 400.
func TestSCIMFilterJSONEscapes(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"a/b@example.com","externalId":"ext/😀"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	for _, f := range []string{`userName eq "a\/b@example.com"`, `externalId eq "ext\/\ud83d\ude00"`} {
		code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(f), "")
		if code != 200 || list["totalResults"] != float64(1) {
			t.Errorf("%s: %d %v", f, code, list)
		}
	}
}

// TestSCIMMultiValuedSubAttribute: a PATCH of a sub-attribute of the kept e-mail or
// phone number other than its value (display, primary — Entra sends "True" as a string)
// names no part of them this server keeps; it must not write that sub-attribute's value
// as the address or number, nor clear them on its remove.
func TestSCIMMultiValuedSubAttribute(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"sub@example.com",
	 "emails":[{"value":"sub@example.com","type":"work","primary":true}],
	 "phoneNumbers":[{"value":"+15550100123","type":"mobile"}]}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	for _, op := range []string{
		`{"op":"replace","path":"emails[type eq \"work\"].display","value":"Sub at work"}`,
		`{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].primary","value":"True"}`,
		`{"op":"remove","path":"emails[type eq \"work\"].display"}`,
		`{"op":"replace","value":{"phoneNumbers[type eq \"mobile\"].display":"cell"}}`,
	} {
		code, body, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[`+op+`]}`)
		rec, _ := h.user("sub@example.com")
		if code != 200 || rec.Email != "sub@example.com" || rec.Phone != "+15550100123" {
			t.Errorf("%s: %d %v; stored email %q phone %q", op, code, body["detail"], rec.Email, rec.Phone)
		}
	}
}

// TestSCIMEmailRemoveWithValue: a remove of `emails` whose value names another
// address (as Entra names what it removes from a multi-valued attribute, members too)
// leaves the user's work address alone; one naming that address removes it.
func TestSCIMEmailRemoveWithValue(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"rv@example.com","emails":[{"value":"rv@example.com","type":"work"}]}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	code, body, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"Remove","path":"emails","value":[{"value":"rv.home@example.com","type":"home"}]}]}`)
	if rec, _ := h.user("rv@example.com"); code != 200 || rec.Email != "rv@example.com" {
		t.Fatalf("remove of another address: %d %v; stored %q", code, body["detail"], rec.Email)
	}
	code, body, _ = h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"Remove","path":"emails","value":[{"value":"RV@example.com"}]}]}`)
	if rec, _ := h.user("rv@example.com"); code != 200 || rec.Email != "" {
		t.Fatalf("remove of the address: %d %v; stored %q", code, body["detail"], rec.Email)
	}
}

// TestSCIMPrimaryFalsePath: the e-mail and phone number emfa keeps are shown as
// primary; a path filtered on `primary eq false` (a directory's secondary address) names
// another entry, and must neither overwrite nor remove the one kept.
func TestSCIMPrimaryFalsePath(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"pf@example.com","emails":[{"value":"pf@example.com","type":"work"}],
	 "phoneNumbers":[{"value":"+15550100123","type":"mobile"}]}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	for _, op := range []string{
		`{"op":"replace","path":"emails[primary eq false].value","value":"second@example.com"}`,
		`{"op":"add","path":"phoneNumbers[primary eq False].value","value":"+15550100999"}`,
		`{"op":"remove","path":"emails[primary eq false]"}`,
	} {
		code, body, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[`+op+`]}`)
		rec, _ := h.user("pf@example.com")
		if code != 200 || rec.Email != "pf@example.com" || rec.Phone != "+15550100123" {
			t.Errorf("%s: %d %v; stored email %q phone %q", op, code, body["detail"], rec.Email, rec.Phone)
		}
	}
	code, body, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"emails[primary eq true].value","value":"pf2@example.com"}]}`)
	if rec, _ := h.user("pf@example.com"); code != 200 || rec.Email != "pf2@example.com" {
		t.Errorf("primary eq true: %d %v; stored %q", code, body["detail"], rec.Email)
	}
}

// TestSCIMIfNoneMatchListAndStar: If-None-Match may list several tags or be `*`
// (RFC 9110 §13.1.2); a GET whose resource matches any of them is answered 304.
func TestSCIMIfNoneMatchListAndStar(t *testing.T) {
	h := newSyncHarness(t)
	code, u, hdr := h.scim("POST", "/Users", `{"userName":"inm@example.com"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	code, g, ghdr := h.scim("POST", "/Groups", `{"displayName":"inm"}`)
	if code != 201 {
		t.Fatalf("group: %d %v", code, g)
	}
	gid := g["id"].(string)
	for _, c := range []struct{ path, inm string }{
		{"/Users/" + id, "*"}, {"/Users/" + id, `W/"old", ` + hdr.Get("ETag")},
		{"/Groups/" + gid, "*"}, {"/Groups/" + gid, `W/"old", ` + ghdr.Get("ETag")},
	} {
		if code, _, _ := h.scim("GET", c.path, "", "If-None-Match", c.inm); code != 304 {
			t.Errorf("%s If-None-Match %s: %d", c.path, c.inm, code)
		}
	}
	if code, _, _ := h.scim("GET", "/Users/"+id, "", "If-None-Match", `W/"old"`); code != 200 {
		t.Errorf("other tag: %d", code)
	}
}

// TestSCIMValueFilterPathOtherEntry: a replace whose path filters on another value
// (emails[value eq "home@…"].value) names an entry emfa does not keep; it must not
// overwrite the user's address, as a remove filtered so already removes nothing.
func TestSCIMValueFilterPathOtherEntry(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"vf@example.com","emails":[{"value":"vf@example.com","type":"work"}]}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	code, body, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"emails[value eq \"vf.home@example.com\"].value","value":"vf.home2@example.com"}]}`)
	if rec, _ := h.user("vf@example.com"); code != 200 || rec.Email != "vf@example.com" {
		t.Errorf("another entry: %d %v; stored %q", code, body["detail"], rec.Email)
	}
	code, body, _ = h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"emails[value eq \"VF@example.com\"].value","value":"vf2@example.com"}]}`)
	if rec, _ := h.user("vf@example.com"); code != 200 || rec.Email != "vf2@example.com" {
		t.Errorf("the kept entry: %d %v; stored %q", code, body["detail"], rec.Email)
	}
}

// TestSCIMExtensionAttributePath: a path naming its attribute by an extension's URN
// (RFC 7644 §3.10) names that extension's attribute, not the core one of the same name:
// a custom extension's `active` must not disable the user, nor its `displayName` rename
// it, nor a group extension's `members` empty the group.
func TestSCIMExtensionAttributePath(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"ex@example.com","displayName":"Ex"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	const ext = "urn:ietf:params:scim:schemas:extension:custom:2.0:User:"
	code, body, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"`+ext+`active","value":false},
	 {"op":"replace","value":{"`+ext+`displayName":"Other"}}]}`)
	if code != 200 || body["active"] != true || body["displayName"] != "Ex" {
		t.Errorf("user: %d %v", code, body)
	}
	code, g, _ := h.scim("POST", "/Groups", `{"displayName":"exg","members":[{"value":"`+id+`"}]}`)
	if code != 201 {
		t.Fatalf("group: %d %v", code, g)
	}
	code, g, _ = h.scim("PATCH", "/Groups/"+g["id"].(string), `{"Operations":[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:custom:2.0:Group:members"}]}`)
	if ms, _ := g["members"].([]any); code != 200 || len(ms) != 1 {
		t.Errorf("group: %d %v", code, g)
	}
	// The core schema's URN still names the core attribute.
	code, body, _ = h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:displayName","value":"Ex2"}]}`)
	if code != 200 || body["displayName"] != "Ex2" {
		t.Errorf("core URN: %d %v", code, body)
	}
}
