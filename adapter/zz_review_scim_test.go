package adapter

import "testing"

// TestReviewSCIMPhoneRemoveByValueAsWritten: a directory removes a phone number by the
// value it sent (RFC 7644 §3.5.2.2), written as it wrote it, not as emfa keeps it
// (E.164). The mobile it names is removed; a remove whose value names another number
// (the desk phone) leaves the mobile, as one of emails does.
func TestReviewSCIMPhoneRemoveByValueAsWritten(t *testing.T) {
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
