package adapter

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestAdminIfMatchNamesTheUser: an admin API write with If-Match applies only to
// the user its ETag names (its id and revision). A user deleted and created again under
// its name between the request's check of the tag and its write is another user, whose
// revision restarts where the old one's was: the write was made by name on the revision
// alone, and a DELETE on the old user's tag deleted the new user (a PATCH or disable
// changed it). It is answered 412 user_changed, the new user kept as it is.
func TestAdminIfMatchNamesTheUser(t *testing.T) {
	for _, req := range [][3]string{
		{"DELETE", "", ""},
		{"POST", "/disable", ""},
		{"PATCH", "", `{"displayName":"Old Kim"}`},
	} {
		t.Run(req[0]+req[1], func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				hooked := &testdb.BeforeUserChanges{Store: st}
				h := newAdminHarnessOn(t, hooked)
				other, err := lifecycle.New(lifecycle.Options{Store: st}) // another client, on this replica or another
				if err != nil {
					t.Fatal(err)
				}
				auth := []string{"Authorization", "Bearer " + h.write}
				code, text, hdr := h.do(t, "POST", "/admin/v1/users", `{"name":"kim"}`, auth...)
				if code != 201 {
					t.Fatalf("create: %d %s", code, text)
				}
				old := hdr.Get("ETag")
				var again lifecycle.User
				hooked.Before = func() {
					if err := other.DeleteUser(ctx, "test", "kim"); err != nil {
						t.Error(err)
					}
					if again, err = other.CreateUser(ctx, "test", lifecycle.UserInput{Name: "kim", DisplayName: ptrTo("New Kim")}); err != nil {
						t.Error(err)
					}
				}
				code, text, _ = h.do(t, req[0], "/admin/v1/users/kim"+req[1], req[2], append(slices.Clone(auth), "If-Match", old)...)
				var out map[string]any
				_ = json.Unmarshal([]byte(text), &out)
				if c, _ := errorCode(out); code != 412 || c != lifecycle.CodeChanged {
					t.Errorf("%s on the tag %s of a user deleted and created again since: %d %s", req[0], old, code, text)
				}
				u, err := h.manager.GetUser(ctx, "kim")
				if err != nil || u.ID != again.ID || u.State != lifecycle.StateActive || u.DisplayName != "New Kim" {
					t.Fatalf("the new kim (%s) after the write on the old one's tag: %+v, %v", again.ID, u, err)
				}
			})
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
