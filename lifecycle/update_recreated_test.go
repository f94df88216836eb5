package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestEditUserWritesTheUserItRead: an update reads the user, edits it and writes
// the whole profile back on the condition of the revision read. A user deleted and
// created again under its name between the read and the write has another id and its
// revision restarted, often at the one read: the old user's profile, edited, was written
// over the new user's (its e-mail address replaced by the old one's). The write is made
// on the user read too, and an update that named no version is made again on the new
// user.
func TestEditUserWritesTheUserItRead(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, _ := newManager(t, hooked)
		other, _ := newManager(t, st) // SCIM's, the admin API's, on this replica or another
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice", Email: ptr("old@example.com")}); err != nil {
			t.Fatal(err)
		}
		var again lifecycle.User
		hooked.Before = func() {
			if err := other.DeleteUser(ctx, "test", "alice"); err != nil {
				t.Error(err)
			}
			var err error
			if again, err = other.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice", Email: ptr("new@example.com")}); err != nil {
				t.Error(err)
			}
		}
		if _, err := m.UpdateUser(ctx, "test", "alice", lifecycle.UserInput{DisplayName: ptr("Alice")}); err != nil {
			t.Fatal(err)
		}
		u, err := m.GetUser(ctx, "alice")
		if err != nil || u.ID != again.ID || u.Email != "new@example.com" || u.DisplayName != "Alice" {
			t.Fatalf("the new alice (%s, new@example.com) after an update of her name: %+v, %v", again.ID, u, err)
		}
	})
}
