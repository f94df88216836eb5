package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestImportRowUpdatesTheUserItRead: an import's row updates its user as read,
// on the condition of the revision read, the columns the file leaves out kept from the
// profile read. A user deleted and created again under its name meanwhile (by SCIM, the
// admin API) is another, its revision restarted at the one read: the old user's profile
// was written over the new one's (its e-mail address the old one's). The row is refused
// user_changed, as for a user changed meanwhile, and the new user kept as it is.
func TestImportRowUpdatesTheUserItRead(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, _ := newManager(t, hooked)
		other, _ := newManager(t, st)
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice", Email: ptr("old@example.com")}); err != nil {
			t.Fatal(err)
		}
		var again lifecycle.User
		hooked.Before = func() {
			if err := other.DeleteUser(ctx, "sync:scim", "alice"); err != nil {
				t.Error(err)
			}
			var err error
			if again, err = other.CreateUser(ctx, "sync:scim", lifecycle.UserInput{Name: "alice", Email: ptr("new@example.com")}); err != nil {
				t.Error(err)
			}
		}
		rows, unreadable := parse(t, lifecycle.FormatCSV, "username,displayName\nalice,Alice\n")
		rep, err := m.Import(ctx, "test", rows, unreadable, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := m.GetUser(ctx, "alice")
		if err != nil || u.ID != again.ID || u.Email != "new@example.com" {
			t.Fatalf("the new alice (%s, new@example.com) after an import row of the old one: %+v, %v (report %s)", again.ID, u, err, summary(rep))
		}
		if rep.Refused != 1 || len(rep.Rows) != 1 || rep.Rows[0].Error == nil || rep.Rows[0].Error.Code != lifecycle.CodeChanged {
			t.Fatalf("report %s, want alice's row refused %s", summary(rep), lifecycle.CodeChanged)
		}
	})
}
