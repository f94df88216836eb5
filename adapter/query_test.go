package adapter

import (
	"net/http"
	"strings"
	"testing"
)

// TestQueryTooManyPairs: Go's query parser reads no parameter at all from a
// query of more than 10,000 pairs (net/url's limit since Go 1.24.12, an error that
// c.QueryParams drops), so an import sent with ?dryRun=true and a run of empty pairs
// after it applied the file, and a filtered list listed everyone. The pairs were each
// readable, so the check of each pair let it through; such a query is now refused 400
// invalid_parameter, and nothing is imported.
func TestQueryTooManyPairs(t *testing.T) {
	h := newAdminHarness(t)
	for _, name := range []string{"alice", "bob"} {
		if code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"`+name+`"}`); code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, out)
		}
	}
	pad := strings.Repeat("&", 10_000)
	code, text, _ := h.do(t, "POST", AdminPrefix+"/import?dryRun=true"+pad, "username\ncarol\n",
		"Authorization", "Bearer "+h.write, "Content-Type", "text/csv")
	if code != http.StatusBadRequest || !strings.Contains(text, `"invalid_parameter"`) {
		t.Errorf("an import's dryRun=true among 10,001 pairs: %d %s, want 400 invalid_parameter", code, text)
	}
	code, out := h.admin(t, h.write, "GET", AdminPrefix+"/users?prefix=al"+pad, "")
	if got, _ := errorCode(out); code != http.StatusBadRequest || got != "invalid_parameter" {
		t.Errorf("a list's prefix=al among 10,001 pairs: %d %v, want 400 invalid_parameter", code, out)
	}
	code, out = h.admin(t, h.write, "GET", AdminPrefix+"/users", "")
	if users, _ := out["users"].([]any); code != http.StatusOK || len(users) != 2 {
		t.Errorf("users after the refused import: %d %v, want alice and bob only", code, out)
	}
}
