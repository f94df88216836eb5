package adapter

import (
	"fmt"
	"slices"
	"testing"
)

// TestSCIMGroupRemoveUnknownMember: removing, by a value array, a member together with an
// id that is no longer an emfa user removes the member; the unknown id is nothing to
// remove, as it is in the filter form. Adding an unknown id is still refused.
func TestSCIMGroupRemoveUnknownMember(t *testing.T) {
	h := newSyncHarness(t)
	path, ids := groupOf(t, h, "team", "ann", "bob", "gone")
	if code, _, _ := h.scim("DELETE", "/Users/"+ids["gone"], ""); code != 204 {
		t.Fatalf("delete gone: %d", code)
	}
	body := fmt.Sprintf(`{`+patchSchema+`,"Operations":[{"op":"Remove","path":"members","value":[{"value":%q},{"value":%q}]}]}`, ids["ann"], ids["gone"])
	if code, out, _ := h.scim("PATCH", path, body); code != 200 {
		t.Errorf("remove a member and a deleted user: %d %v, want 200", code, out)
	}
	if got := membersOf(t, h, path); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("members %v, want [bob]", got)
	}
	add := fmt.Sprintf(`{`+patchSchema+`,"Operations":[{"op":"Add","path":"members","value":[{"value":%q}]}]}`, ids["gone"])
	if code, out, _ := h.scim("PATCH", path, add); code != 400 || out["scimType"] != "invalidValue" {
		t.Errorf("add a deleted user: %d %v, want 400 invalidValue", code, out)
	}
}
