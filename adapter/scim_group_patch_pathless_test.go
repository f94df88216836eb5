package adapter

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestGroupPatchPathlessRefusalNamesNoUserUnknown: an operation without a path sets its
// value's keys one by one, and a PATCH's operations are applied twice (patchedGroup: the
// ids they name gathered, then applied with the users' names). Each pass took the keys in
// the map's own order, which Go varies from one range to the next: where the first pass
// met an invalid displayName before the members, it stopped with no id gathered, and the
// second, meeting the members first, refused a user that exists as "no user with id" (a
// time in four). The refusal is the displayName's, each time.
func TestGroupPatchPathlessRefusalNamesNoUserUnknown(t *testing.T) {
	h := newSyncHarness(t)
	members, _ := d92Members(t, h.st, 1)
	id := members[0].(map[string]any)["value"].(string)
	api := &syncAPI{o: Sync{Queue: h.q}}
	ops := patchOpsOf(t, `{"Operations":[{"op":"add","value":{"displayName":5,"members":[{"value":"`+id+`"}]}}]}`)
	for range 64 {
		_, _, _, err := api.patchedGroup(context.Background(), ops, store.Group{Name: "d94"}, nil)
		if e := (*scimError)(nil); !errors.As(err, &e) || e.Status != 400 || e.Detail != "displayName must be a string" {
			t.Fatalf("%v, want 400 displayName must be a string", err)
		}
	}
}
