package adapter

import (
	"testing"
)

// TestSCIMAddressCountry: the user's country is the work address's country, else the
// primary address's, else an untyped one's, however a directory writes it: a whole
// resource, a PATCH of addresses (an array or one object), Entra's path to the work
// address's country; a path naming another type, or an address that is none of these,
// changes nothing; a country's name or alpha-3 code is read as its code, and a country
// emfa does not read is kept as none; a remove clears it.
func TestSCIMAddressCountry(t *testing.T) {
	h := newSyncHarness(t)
	country := func() string {
		t.Helper()
		rec, ok := h.user("kim")
		if !ok {
			t.Fatal("no user kim")
		}
		return rec.Country
	}
	code, u, _ := h.scim("POST", "/Users", `{"userName":"kim","addresses":[{"type":"home","country":"US"},{"type":"work","country":"gb"}]}`)
	if code != 201 || country() != "GB" {
		t.Fatalf("POST with a home and a work address: %d, country %q", code, country())
	}
	if a := shown(u, "addresses"); a["country"] != "GB" || a["type"] != "work" {
		t.Errorf("shown: %v", u["addresses"])
	}
	id := u["id"].(string)
	for _, c := range []struct{ name, op, want string }{
		{"Entra's path", `{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"DE"}`, "DE"},
		{"a path to the home address", `{"op":"Replace","path":"addresses[type eq \"home\"].country","value":"FR"}`, "DE"},
		{"another part of the work address", `{"op":"Replace","path":"addresses[type eq \"work\"].locality","value":"Paris"}`, "DE"},
		{"one home address added", `{"op":"Add","path":"addresses","value":{"type":"home","country":"FR"}}`, "DE"},
		{"one primary address added", `{"op":"Add","path":"addresses","value":{"type":"other","country":"fr","primary":true}}`, "FR"},
		{"addresses none of which is the user's, added", `{"op":"Add","path":"addresses","value":[{"type":"home","country":"IT"}]}`, "FR"},
		{"an untyped address", `{"op":"Replace","path":"addresses","value":[{"country":"ES"}]}`, "ES"},
		{"a country's name", `{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"Spain"}`, "ES"},
		{"a name in the country's own language", `{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"Österreich"}`, "AT"},
		{"an alpha-3 code", `{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"che"}`, "CH"},
		{"no country's name", `{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"Narnia"}`, ""},
		{"a path-less replace with Entra's key", `{"op":"Replace","value":{"addresses[type eq \"work\"].country":"PT"}}`, "PT"},
		{"the work address removed", `{"op":"Remove","path":"addresses[type eq \"work\"]"}`, ""},
	} {
		code, _, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[`+c.op+`]}`)
		if code != 200 || country() != c.want {
			t.Errorf("%s: %d, country %q, want %q", c.name, code, country(), c.want)
		}
	}
	for _, bad := range []string{
		`{"op":"Replace","path":"addresses","value":"GB"}`,
		`{"op":"Replace","path":"addresses[type eq \"work\"].country","value":{"code":"GB"}}`,
	} {
		if code, _, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[`+bad+`]}`); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	// A PUT without addresses says the user has none.
	h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"NL"}]}`)
	if code, u, _ := h.scim("PUT", "/Users/"+id, `{"userName":"kim"}`); code != 200 || country() != "" || u["addresses"] != nil {
		t.Errorf("PUT without addresses: %d, country %q, shown %v", code, country(), u["addresses"])
	}
}
