package adapter

import (
	"net/http"
	"net/url"
	"testing"
)

// TestFilterLiteral: a bare null, boolean or number in a filter (RFC 7644
// §3.4.2.2's compValue) was compared as its text: `externalId eq null` listed the users
// whose externalId is the four letters "null", not those without one, and `userName eq
// null` found a user named "null". null is the attribute unassigned (RFC 7643 §2.5); a
// boolean or number against a string attribute, or a number against active, can equal
// nothing of it, and is refused 400 invalidFilter rather than matched as text.
func TestFilterLiteral(t *testing.T) {
	h := newSyncHarness(t)
	for _, body := range []string{
		`{"userName":"null","externalId":"null","displayName":"null"}`,
		`{"userName":"12345","externalId":"true"}`,
		`{"userName":"plain@example.com","displayName":"Plain"}`,
	} {
		if code, out, _ := h.scim("POST", "/Users", body); code != http.StatusCreated {
			t.Fatalf("create %s: %d %v", body, code, out)
		}
	}
	if code, out, _ := h.scim("POST", "/Groups", `{"displayName":"nullgroup"}`); code != http.StatusCreated {
		t.Fatalf("create group: %d %v", code, out)
	}
	if code, out, _ := h.scim("POST", "/Groups", `{"displayName":"null","externalId":"null"}`); code != http.StatusCreated {
		t.Fatalf("create group: %d %v", code, out)
	}
	list := func(kind, filter string) (int, map[string]any) {
		code, out, _ := h.scim("GET", "/"+kind+"?filter="+url.QueryEscape(filter), "")
		return code, out
	}
	names := func(out map[string]any, key string) []string {
		var got []string
		rs, _ := out["Resources"].([]any)
		for _, r := range rs {
			got = append(got, r.(map[string]any)[key].(string))
		}
		return got
	}
	for filter, want := range map[string][]string{
		`externalId eq null`:  {"plain@example.com"},
		`displayName eq null`: {"12345"},
		`userName eq null`:    nil,
		`id eq null`:          nil,
		`active eq null`:      nil,
		`userName eq "null"`:  {"null"},
	} {
		code, out := list("Users", filter)
		if got := names(out, "userName"); code != http.StatusOK || len(got) != len(want) || len(want) > 0 && got[0] != want[0] {
			t.Errorf("Users %s: %d %v, want %v", filter, code, got, want)
		}
	}
	for filter, want := range map[string][]string{
		`externalId eq null`:  {"nullgroup"},
		`displayName eq null`: nil,
	} {
		code, out := list("Groups", filter)
		if got := names(out, "displayName"); code != http.StatusOK || len(got) != len(want) || len(want) > 0 && got[0] != want[0] {
			t.Errorf("Groups %s: %d %v, want %v", filter, code, got, want)
		}
	}
	for _, c := range []struct{ kind, filter string }{
		{"Users", `userName eq 12345`},
		{"Users", `externalId eq true`},
		{"Users", `emails eq false`},
		{"Users", `active eq 1`},
		{"Groups", `displayName eq 5`},
		{"Groups", `externalId eq true`},
	} {
		if code, out := list(c.kind, c.filter); code != http.StatusBadRequest || out["scimType"] != "invalidFilter" {
			t.Errorf("%s %s: %d %v, want 400 invalidFilter", c.kind, c.filter, code, out)
		}
	}
	// No user has a work address: each has none of that type.
	if code, out := list("Users", `emails[type eq "work"].value eq null`); code != http.StatusOK || out["totalResults"] != float64(3) {
		t.Errorf(`emails[type eq "work"].value eq null: %d %v, want 3`, code, out)
	}
	// A boolean is active's; the quoted text stays accepted.
	for _, filter := range []string{`active eq true`, `active eq "true"`} {
		if code, out := list("Users", filter); code != http.StatusOK || out["totalResults"] != float64(3) {
			t.Errorf("Users %s: %d %v, want 3", filter, code, out)
		}
	}
}
