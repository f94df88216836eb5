package lifecycle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestUserChangeAnsweredAsWritten: an update or a state change of a user that
// committed, and was recorded, is answered with the user as it wrote it (as a read just
// after its commit shows it) even when another replica deleted the user before it was read
// back, or deleted it and created another under its name. The first was answered 404 "no
// user" while its SUCCESS stood in the audit trail; the second with the other user (its
// id, its revision: another's ETag).
func TestUserChangeAnsweredAsWritten(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &afterUserChanges{Store: st}
		m, clk := newManager(t, hooked)
		other, _ := newManager(t, st)
		// Within a millisecond: the store keeps its times to the millisecond, and so must
		// the answer.
		clk.Advance(1500 * time.Microsecond)
		mail := "new@example.com"
		for _, c := range []struct {
			name   string
			change func(u lifecycle.User) (lifecycle.User, error)
		}{
			{"update", func(u lifecycle.User) (lifecycle.User, error) {
				return m.UpdateUser(ctx, "test", u.Name, lifecycle.UserInput{Email: &mail})
			}},
			{"disable", func(u lifecycle.User) (lifecycle.User, error) {
				return m.SetUserState(ctx, "test", u.Name, true)
			}},
			{"disableAt", func(u lifecycle.User) (lifecycle.User, error) {
				return m.SetUserStateAt(ctx, "test", u.Name, true, u.ID, u.Revision)
			}},
			{"create", func(u lifecycle.User) (lifecycle.User, error) {
				return m.CreateUser(ctx, "test", lifecycle.UserInput{Name: u.Name, Email: &mail})
			}},
		} {
			for _, recreate := range []bool{false, true} {
				user := fmt.Sprintf("w-%s-%v", c.name, recreate)
				before := lifecycle.User{Name: user}
				if c.name != "create" {
					var err error
					if before, err = other.CreateUser(ctx, "test", lifecycle.UserInput{Name: user}); err != nil {
						t.Fatal(err)
					}
				}
				var want lifecycle.User
				hooked.After = func() {
					var err error
					if want, err = other.GetUser(ctx, user); err != nil {
						t.Error(err)
					}
					if err := other.DeleteUser(ctx, "test", user); err != nil {
						t.Error(err)
					}
					if recreate {
						if _, err := other.CreateUser(ctx, "test", lifecycle.UserInput{Name: user}); err != nil {
							t.Error(err)
						}
					}
				}
				got, err := c.change(before)
				if err != nil || got.ID != want.ID || got.Revision != want.Revision || !sameJSON(t, got, want) {
					t.Errorf("%s, the user deleted (created again %v) after it committed: %+v, %v; want it as written, %+v", c.name, recreate, got, err, want)
				}
			}
		}
	})
}
