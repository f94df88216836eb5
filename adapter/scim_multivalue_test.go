package adapter

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// shown is the one value of a user's emails or phoneNumbers as the user resource shows it.
func shown(u map[string]any, attr string) map[string]any {
	vs, _ := u[attr].([]any)
	if len(vs) != 1 {
		return nil
	}
	return vs[0].(map[string]any)
}

// TestSCIMPhoneKeptIsTheMobile: the user's phone, where codes go, is the mobile number,
// else the primary one ("README: the mobile number (else the primary phone)"): a desk
// phone that is neither is not taken for it. A primary desk phone kept for want of a
// mobile is shown as what it is, and a path naming its type changes it.
func TestSCIMPhoneKeptIsTheMobile(t *testing.T) {
	h := newSyncHarness(t)
	phone := func() string {
		rec, _ := h.user("pat")
		return rec.Phone
	}
	code, u, _ := h.scim("POST", "/Users", `{"userName":"pat","phoneNumbers":[{"type":"work","value":"+1 425 555 0100"}]}`)
	if code != 201 || phone() != "" || u["phoneNumbers"] != nil {
		t.Fatalf("POST with a desk phone only: %d, phone %q, shown %v", code, phone(), u["phoneNumbers"])
	}
	id := u["id"].(string)
	code, u, _ = h.scim("PUT", "/Users/"+id, `{"userName":"pat","phoneNumbers":[{"type":"work","value":"+14255550100","primary":true}]}`)
	if p := shown(u, "phoneNumbers"); code != 200 || phone() != "+14255550100" || p["type"] != "work" || p["primary"] != true {
		t.Fatalf("PUT with a primary desk phone: %d, phone %q, shown %v", code, phone(), u["phoneNumbers"])
	}
	patch := func(op string) (int, map[string]any) {
		code, u, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[`+op+`]}`)
		return code, u
	}
	if code, u := patch(`{"op":"Replace","path":"phoneNumbers[type eq \"work\"].value","value":"+14255550101"}`); code != 200 || phone() != "+14255550101" {
		t.Errorf("replace the primary desk phone it keeps: %d, phone %q (%v)", code, phone(), u)
	}
	if code, u := patch(`{"op":"Remove","path":"phoneNumbers[type eq \"work\"].value"}`); code != 200 || phone() != "" {
		t.Errorf("remove the primary desk phone it keeps: %d, phone %q (%v)", code, phone(), u)
	}
	code, u = patch(`{"op":"Add","path":"phoneNumbers","value":[{"type":"work","value":"+14255550102"},{"type":"mobile","value":"+15550100123"}]}`)
	if p := shown(u, "phoneNumbers"); code != 200 || phone() != "+15550100123" || p["type"] != "mobile" {
		t.Errorf("add a mobile and a desk phone: %d, phone %q, shown %v", code, phone(), u["phoneNumbers"])
	}
	if code, _ := patch(`{"op":"Add","path":"phoneNumbers","value":[{"type":"work","value":"+14255550103"}]}`); code != 200 || phone() != "+15550100123" {
		t.Errorf("add a desk phone beside the mobile: %d, phone %q", code, phone())
	}
}

// TestSCIMPhoneAsWritten: a directory's phone number as RFC 7643 suggests it, a tel: URI
// (RFC 3966), or grouped as people write it, is kept in E.164; one with an extension,
// which no code reaches, is refused with the field named.
func TestSCIMPhoneAsWritten(t *testing.T) {
	h := newSyncHarness(t)
	phone := func(name string) string {
		rec, _ := h.user(name)
		return rec.Phone
	}
	for name, value := range map[string]string{"ann": "tel:+1-201-555-0123", "bea": "+1 (201) 555-0124"} {
		code, u, _ := h.scim("POST", "/Users", `{"userName":"`+name+`","phoneNumbers":[{"type":"mobile","value":"`+value+`"}]}`)
		if want := "+1201555012" + map[string]string{"ann": "3", "bea": "4"}[name]; code != 201 || phone(name) != want || shown(u, "phoneNumbers")["value"] != want {
			t.Errorf("POST with %q: %d, phone %q, shown %v; want %s", value, code, phone(name), u["phoneNumbers"], want)
		}
	}
	code, u, _ := h.scim("POST", "/Users", `{"userName":"cy","phoneNumbers":[{"type":"mobile","value":"tel:+1-201-555-0125;ext=12"}]}`)
	if code != 400 || !strings.Contains(fmt.Sprint(u["detail"]), "phone") {
		t.Errorf("POST with an extension: %d %v, want 400 naming the phone", code, u)
	}
}

// TestSCIMEmailKeptIsTheWork: the user's e-mail is the work address, else the primary
// one; a personal address added beside it does not replace it, and one kept for want of
// a work address is shown as what it is.
func TestSCIMEmailKeptIsTheWork(t *testing.T) {
	h := newSyncHarness(t)
	email := func() string {
		rec, _ := h.user("pat")
		return rec.Email
	}
	_, u, _ := h.scim("POST", "/Users", `{"userName":"pat","emails":[{"type":"work","value":"pat@example.com","primary":true}]}`)
	id := u["id"].(string)
	for _, op := range []string{
		`{"op":"Add","path":"emails[type eq \"home\"].value","value":"pat@home.example"}`,
		`{"op":"Replace","path":"emails[type eq \"home\"].value","value":"pat@home.example"}`,
		`{"op":"Add","path":"emails","value":[{"type":"home","value":"pat@home.example"}]}`,
		`{"op":"Remove","path":"emails[type eq \"home\"]"}`,
	} {
		code, u, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[`+op+`]}`)
		if p := shown(u, "emails"); code != 200 || email() != "pat@example.com" || p["type"] != "work" {
			t.Errorf("%s: %d, e-mail %q, shown %v", op, code, email(), u["emails"])
		}
	}
	code, u, _ := h.scim("PUT", "/Users/"+id, `{"userName":"pat","emails":[{"type":"home","value":"pat@home.example","primary":true}]}`)
	if p := shown(u, "emails"); code != 200 || email() != "pat@home.example" || p["type"] != "home" {
		t.Errorf("PUT with a primary home address only: %d, e-mail %q, shown %v", code, email(), u["emails"])
	}
	for f, want := range map[string]float64{
		`emails[type eq "work"].value eq "pat@home.example"`: 0,
		`emails[type eq "home"].value eq "pat@home.example"`: 1,
	} {
		if code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(f), ""); code != 200 || list["totalResults"] != want {
			t.Errorf("%s: %d %v, want %v", f, code, list["totalResults"], want)
		}
	}
	code, u, _ = h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"pat@example.com"}]}`)
	if p := shown(u, "emails"); code != 200 || email() != "pat@example.com" || p["type"] != "work" {
		t.Errorf("add a work address beside the kept home one: %d, e-mail %q, shown %v", code, email(), u["emails"])
	}
}
