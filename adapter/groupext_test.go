package adapter

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestGroupExternalIDChecked: a group's externalId is checked as a user's is (text
// without control characters, at most 1024 bytes): refused 400 invalidValue. It was taken
// as sent: kept with its control characters on SQLite, and on PostgreSQL, whose text holds
// no NUL, answered 503, which a directory sends again and again.
func TestGroupExternalIDChecked(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newSyncHarnessOn(t, st)
		auth := []string{"Authorization", "Bearer " + testSCIMToken, "Content-Type", "application/scim+json"}
		// The rule a user's externalId has.
		if code, body, _ := h.do("POST", SCIMPrefix+"/Users", `{"userName":"u@example.com","externalId":"x\u0000y"}`, auth...); code != 400 || body["scimType"] != "invalidValue" {
			t.Fatalf("user: %d %v", code, body)
		}
		for _, ext := range []string{`x\u0000y`, `x\u0007y`, strings.Repeat("e", 1025)} {
			code, body, _ := h.do("POST", SCIMPrefix+"/Groups", `{"displayName":"g","externalId":"`+ext+`"}`, auth...)
			if code != 400 || body["scimType"] != "invalidValue" {
				t.Errorf("POST externalId %.10q: %d %v, want 400 invalidValue", ext, code, body)
			}
		}
		code, body, _ := h.do("POST", SCIMPrefix+"/Groups", `{"displayName":"g2","externalId":"ok"}`, auth...)
		if code != 201 {
			t.Fatalf("POST: %d %v", code, body)
		}
		id, _ := body["id"].(string)
		for _, ops := range []string{
			`{"Operations":[{"op":"replace","path":"externalId","value":"x\u0000y"}]}`,
			`{"Operations":[{"op":"replace","value":{"externalId":"x\u0000y"}}]}`,
		} {
			if code, body, _ := h.do("PATCH", SCIMPrefix+"/Groups/"+id, ops, auth...); code != 400 || body["scimType"] != "invalidValue" {
				t.Errorf("PATCH %s: %d %v, want 400 invalidValue", ops, code, body)
			}
		}
		if code, body, _ := h.do("PUT", SCIMPrefix+"/Groups/"+id, `{"displayName":"g2","externalId":"x\u0000y"}`, auth...); code != 400 || body["scimType"] != "invalidValue" {
			t.Errorf("PUT: %d %v, want 400 invalidValue", code, body)
		}
		if code, body, _ := h.do("GET", SCIMPrefix+"/Groups/"+id, ``, auth...); code != 200 || body["externalId"] != "ok" {
			t.Errorf("group after the refusals: %d %v", code, body)
		}
	})
}
