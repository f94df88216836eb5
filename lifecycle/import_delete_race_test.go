package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestFullImportDeletesOnlyTheUserItRead: a full import deletes the users absent
// from its file as it read them, as it updates the users in it: a user changed while the
// import ran (by SCIM, an event hook, the admin API) is refused user_changed, not
// deleted, and one deleted and created again meanwhile (a directory that de-scoped then
// re-scoped the user) is another user, kept. The deletions were made by name, on no
// condition, and took the new user, its propagation telling the vendors to drop it too.
func TestFullImportDeletesOnlyTheUserItRead(t *testing.T) {
	for _, c := range []struct {
		name    string
		between func(t *testing.T, other *lifecycle.Manager)
	}{
		{"changed meanwhile", func(t *testing.T, other *lifecycle.Manager) {
			if _, err := other.UpdateUser(context.Background(), "sync:scim", "alice", lifecycle.UserInput{DisplayName: ptr("Alice")}); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted and created again meanwhile", func(t *testing.T, other *lifecycle.Manager) {
			ctx := context.Background()
			if err := other.DeleteUser(ctx, "sync:scim", "alice"); err != nil {
				t.Fatal(err)
			}
			if _, err := other.CreateUser(ctx, "sync:scim", lifecycle.UserInput{Name: "alice"}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				hooked := &testdb.BeforeUserChanges{Store: st}
				m, _ := newManager(t, hooked)
				other, _ := newManager(t, st) // SCIM's, on this replica or another
				for _, n := range []string{"alice", "bob"} {
					if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: n}); err != nil {
						t.Fatal(err)
					}
				}
				was, err := m.GetUser(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				rows, unreadable := parse(t, lifecycle.FormatCSV, "username\nbob\n")
				hooked.Before = func() { c.between(t, other) }
				rep, err := m.Import(ctx, "test", rows, unreadable, lifecycle.ImportOptions{Full: true, MaxDeletes: 10})
				if err != nil {
					t.Fatal(err)
				}
				u, err := m.GetUser(ctx, "alice")
				if err != nil {
					t.Fatalf("alice, changed while the import ran, was deleted (report %s)", summary(rep))
				}
				if c.name == "changed meanwhile" && (u.ID != was.ID || u.DisplayName != "Alice") {
					t.Fatalf("alice is %+v", u)
				}
				if rep.Deleted != 0 || rep.Refused != 1 {
					t.Fatalf("report %s, want alice refused", summary(rep))
				}
				for _, r := range rep.Rows {
					if r.Username == "alice" && (r.Error == nil || r.Error.Code != lifecycle.CodeChanged) {
						t.Fatalf("alice's row: %+v, want refused %s", r, lifecycle.CodeChanged)
					}
				}
			})
		})
	}
}
