package adapter

import (
	"fmt"
	"slices"
	"testing"
)

// groupOf makes users named names and a group holding them all; it answers the group's
// path and the users' ids by name.
func groupOf(t *testing.T, h *syncHarness, group string, names ...string) (string, map[string]string) {
	t.Helper()
	ids := map[string]string{}
	var members []string
	for _, n := range names {
		code, u, _ := h.scim("POST", "/Users", fmt.Sprintf(`{"userName":%q}`, n))
		if code != 201 {
			t.Fatalf("create %s: %d %v", n, code, u)
		}
		ids[n] = u["id"].(string)
		members = append(members, fmt.Sprintf(`{"value":%q}`, ids[n]))
	}
	code, g, _ := h.scim("POST", "/Groups", fmt.Sprintf(`{"displayName":%q,"members":[%s]}`, group, join(members)))
	if code != 201 {
		t.Fatalf("create group: %d %v", code, g)
	}
	return "/Groups/" + g["id"].(string), ids
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// membersOf answers the user names the group at path holds, sorted.
func membersOf(t *testing.T, h *syncHarness, path string) []string {
	t.Helper()
	code, g, _ := h.scim("GET", path, "")
	if code != 200 {
		t.Fatalf("GET %s: %d %v", path, code, g)
	}
	var out []string
	ms, _ := g["members"].([]any)
	for _, m := range ms {
		out = append(out, m.(map[string]any)["display"].(string))
	}
	slices.Sort(out)
	return out
}

// TestSCIMGroupRemoveOnlyWhatMatches: a PATCH remove of members removes the members its
// path or value names and no other (RFC 7644 §3.5.2.2); a filter or sub-attribute this
// server cannot evaluate is refused, never taken for "every member". Only the path
// `members` alone, without a value, removes them all.
func TestSCIMGroupRemoveOnlyWhatMatches(t *testing.T) {
	h := newSyncHarness(t)
	path, _ := groupOf(t, h, "team", "ann", "bob")
	for _, tc := range []struct {
		op       string
		code     int
		scimType string
		want     []string
	}{
		{`{"op":"Remove","path":"members[display eq \"nobody\"]"}`, 200, "", []string{"ann", "bob"}},
		{`{"op":"Remove","path":"members[type eq \"User\"]"}`, 400, "invalidFilter", []string{"ann", "bob"}},
		{`{"op":"Remove","path":"members.value"}`, 400, "invalidPath", []string{"ann", "bob"}},
		{`{"op":"Remove","path":"members[value eq \"no-such-id\"].display"}`, 400, "invalidPath", []string{"ann", "bob"}},
		{`{"op":"Remove","path":"members[display eq \"ann\"]"}`, 200, "", []string{"bob"}},
		{`{"op":"Remove","path":"members"}`, 200, "", nil},
	} {
		code, out, _ := h.scim("PATCH", path, `{`+patchSchema+`,"Operations":[`+tc.op+`]}`)
		if code != tc.code || (tc.scimType != "" && out["scimType"] != tc.scimType) {
			t.Errorf("%s: %d %v, want %d %s", tc.op, code, out, tc.code, tc.scimType)
		}
		if got := membersOf(t, h, path); !slices.Equal(got, tc.want) {
			t.Errorf("%s: members %v, want %v", tc.op, got, tc.want)
		}
	}
}
