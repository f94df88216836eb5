package adapter

import "testing"

// TestSCIMPhoneRemoveByValueAsWritten: a directory removes a phone number by the
// value it sent (RFC 7644 §3.5.2.2), written as it wrote it, not as emfa keeps it
// (E.164). The mobile it names is removed; a remove whose value names another number
// (the desk phone) leaves the mobile, as one of emails does.
func TestSCIMPhoneRemoveByValueAsWritten(t *testing.T) {
	h := newSyncHarness(t)
	phone := func() string {
		rec, _ := h.user("pat")
		return rec.Phone
	}
	patch := func(id, op string) int {
		code, _, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[`+op+`]}`)
		return code
	}
	_, u, _ := h.scim("POST", "/Users", `{"userName":"pat","phoneNumbers":[{"value":"+1 (555) 010-0199","type":"mobile"}]}`)
	id := u["id"].(string)
	if phone() != "+15550100199" {
		t.Fatalf("stored %q", phone())
	}
	if code := patch(id, `{"op":"remove","path":"phoneNumbers","value":[{"value":"+1 (425) 555-0100","type":"work"}]}`); code != 200 || phone() != "+15550100199" {
		t.Errorf("remove of the desk phone by value: %d, phone %q, want the mobile kept", code, phone())
	}
	if code := patch(id, `{"op":"remove","path":"phoneNumbers[value eq \"+1 (555) 010-0199\"]"}`); code != 200 || phone() != "" {
		t.Errorf("remove of the mobile by its value as sent: %d, phone %q, want none", code, phone())
	}
	h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[{"op":"add","path":"phoneNumbers","value":[{"value":"tel:+1-555-010-0199","type":"mobile"}]}]}`)
	if code := patch(id, `{"op":"remove","path":"phoneNumbers","value":[{"value":"tel:+1-555-010-0199"}]}`); code != 200 || phone() != "" {
		t.Errorf("remove of the mobile by its tel: URI: %d, phone %q, want none", code, phone())
	}
}

// TestSCIMResendAsWritten: a conditional PUT applied, its answer lost, and sent again
// with the same If-Match is answered as done (README: "a PUT or PATCH whose change the
// user already has is answered as done even on a version gone"), also when its phone
// number and e-mail address are written as the directory writes them, not as emfa
// stores them (E.164, the domain in lower case).
func TestSCIMResendAsWritten(t *testing.T) {
	h := newSyncHarness(t)
	_, u, hdr := h.scim("POST", "/Users", `{"userName":"res"}`)
	id, etag := u["id"].(string), hdr.Get("ETag")
	body := `{"userName":"res","displayName":"Res","emails":[{"value":"res@Example.COM","type":"work"}],
	 "phoneNumbers":[{"value":"+1 (555) 010-0199","type":"mobile"}]}`
	if code, _, _ := h.scim("PUT", "/Users/"+id, body, "If-Match", etag); code != 200 {
		t.Fatalf("first: %d", code)
	}
	if code, out, _ := h.scim("PUT", "/Users/"+id, body, "If-Match", etag); code != 200 {
		t.Errorf("the same PUT sent again: %d %v, want 200", code, out)
	}
	other := `{"userName":"res","displayName":"Other","phoneNumbers":[{"value":"+1 (555) 010-0199","type":"mobile"}]}`
	if code, _, _ := h.scim("PUT", "/Users/"+id, other, "If-Match", etag); code != 412 {
		t.Errorf("another change on the old version: %d, want 412", code)
	}
}

// TestSCIMPhoneReplaceByValueOfAnother: a replace of the entry whose value is
// another number (the desk phone, phoneNumbers[value eq "…"]) leaves the mobile codes go
// to, as one of another address's e-mail entry does; one naming the mobile, in any format
// emfa reads, replaces it.
func TestSCIMPhoneReplaceByValueOfAnother(t *testing.T) {
	h := newSyncHarness(t)
	phone := func() string {
		rec, _ := h.user("pat")
		return rec.Phone
	}
	patch := func(id, op string) int {
		code, _, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[`+op+`]}`)
		return code
	}
	_, u, _ := h.scim("POST", "/Users", `{"userName":"pat","phoneNumbers":[{"value":"+1 (555) 010-0199","type":"mobile"}]}`)
	id := u["id"].(string)
	if code := patch(id, `{"op":"replace","path":"phoneNumbers[value eq \"+1 425 555 0100\"].value","value":"+1 425 555 0101"}`); code != 200 || phone() != "+15550100199" {
		t.Errorf("replace of the desk phone by its value: %d, phone %q, want the mobile kept", code, phone())
	}
	if code := patch(id, `{"op":"replace","path":"phoneNumbers[value eq \"tel:+1-555-010-0199\"].value","value":"+1 555 010 0123"}`); code != 200 || phone() != "+15550100123" {
		t.Errorf("replace of the mobile by its value as written: %d, phone %q", code, phone())
	}
}

// TestSCIMAddressKeptOfAnotherType: the country kept from the primary address of
// another type than work (README: "the work address's country (else the primary
// one's)") is shown with that type, and a path naming that type changes or removes it,
// as the e-mail address and phone number kept so are; a path naming the work address,
// which the user does not have, leaves it.
func TestSCIMAddressKeptOfAnotherType(t *testing.T) {
	h := newSyncHarness(t)
	country := func() string {
		rec, _ := h.user("kim")
		return rec.Country
	}
	patch := func(id, op string) (int, map[string]any) {
		code, u, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[`+op+`]}`)
		return code, u
	}
	code, u, _ := h.scim("POST", "/Users", `{"userName":"kim","addresses":[{"type":"home","primary":true,"country":"FR"}]}`)
	if code != 201 || country() != "FR" {
		t.Fatalf("POST: %d, country %q", code, country())
	}
	if a := shown(u, "addresses"); a["type"] != "home" {
		t.Errorf("shown: %v, want the home address", u["addresses"])
	}
	id := u["id"].(string)
	if code, _ := patch(id, `{"op":"Replace","path":"addresses[type eq \"home\"].country","value":"DE"}`); code != 200 || country() != "DE" {
		t.Errorf("the primary home address's country replaced: %d, country %q, want DE", code, country())
	}
	if code, _ := patch(id, `{"op":"Remove","path":"addresses[type eq \"work\"]"}`); code != 200 || country() != "DE" {
		t.Errorf("a work address removed: %d, country %q, want DE kept", code, country())
	}
	if code, _ := patch(id, `{"op":"Remove","path":"addresses[type eq \"home\"]"}`); code != 200 || country() != "" {
		t.Errorf("the home address removed: %d, country %q, want none", code, country())
	}
	if code, u := patch(id, `{"op":"Add","path":"addresses[type eq \"work\"].country","value":"GB"}`); code != 200 || country() != "GB" || shown(u, "addresses")["type"] != "work" {
		t.Errorf("a work address added: %d, country %q, shown %v", code, country(), u["addresses"])
	}
}
