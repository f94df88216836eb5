package adapter

import (
	"strings"
	"testing"
)

// TestVerifyValuesInAnyCase: the values a Verify notification is read by (event_type,
// data.resource, data.action, data.result) are all compared in any letter case, and
// nothing else about them is loosened. IBM's own pages spell them both ways (a sample's
// result "success", its tables' "Success or Failure"), and emfa compared resource, action
// and result in any case but event_type exactly: a "Management" event creating a user was
// ignored while a "User" resource in it was read. Spaces around a value were trimmed for
// resource and action alone; no value is trimmed now.
func TestVerifyValuesInAnyCase(t *testing.T) {
	h := newSyncHarness(t)
	note := func(id, eventType, resource, action, result string) string {
		return `{"id":"` + id + `","event_type":"` + eventType + `","time":1777626000000,"data":{"resource":"` +
			resource + `","action":"` + action + `","result":"` + result + `","username":"` + id + `@example.com"}}`
	}
	for _, tc := range []struct {
		name                                string
		eventType, resource, action, result string
		created                             bool
	}{
		{"as IBM's sample spells them", "management", "user", "created", "success", true},
		{"event_type capitalised", "Management", "user", "created", "success", true},
		{"event_type in capitals", "MANAGEMENT", "user", "created", "success", true},
		{"resource and action capitalised", "management", "User", "Created", "Success", true},
		{"all in capitals", "MANAGEMENT", "USER", "CREATED", "SUCCESS", true},
		{"failure in any case", "Management", "user", "created", "Failure", false},
		{"another event type", "Authentication", "user", "created", "success", false},
		{"resource with a space", "management", " user", "created", "success", false},
		{"action with a space", "management", "user", "created ", "success", false},
		{"event_type with a space", "management ", "user", "created", "success", false},
	} {
		id := "vcase-" + strings.ReplaceAll(tc.name, " ", "-")
		code, out, _ := h.do("POST", VerifyPath, note(id, tc.eventType, tc.resource, tc.action, tc.result),
			"X-Verify-Secret", testSecret)
		if code != 204 {
			t.Errorf("%s: %d %v, want 204", tc.name, code, out)
			continue
		}
		h.drain()
		if _, ok := h.user(id + "@example.com"); ok != tc.created {
			t.Errorf("%s: user created %v, want %v", tc.name, ok, tc.created)
		}
	}
}
