package lifecycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestWrittenUserIsTheReadUser: a user change answered as written (a delete
// on another replica took the user before it was read back) is answered field by field as
// a read just after its commit shows it, for every kind of change: its groups (given out
// of order, twice), attributes, country, phone, display name, state, created and updated
// times (the clock in another zone than UTC, between two milliseconds), id and revision.
// Without the race it is that read.
func TestWrittenUserIsTheReadUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &afterUserChanges{Store: st}
		m, clk := newManager(t, hooked)
		other, _ := newManager(t, st)
		clk.mu.Lock()
		clk.t = clk.t.In(time.FixedZone("UTC+5:30", 5*3600+1800)).Add(1500 * time.Microsecond)
		clk.mu.Unlock()
		groups := []string{"b", "B", "a", "b"}
		attrs := map[string]string{"k": "v", "scim.externalId": "x-1"}
		full := lifecycle.UserInput{Email: ptr("Pat@Example.COM"), Phone: ptr("+49 30 1234567"), Country: ptr("de"),
			DisplayName: ptr("Pat"), Groups: &groups, Attributes: &attrs}
		moreGroups := []string{"c", "a", "C"}
		moreAttrs := map[string]string{"k": "w"}
		same := full // the profile as it is, given again
		disabled, active := ptr(lifecycle.StateDisabled), ptr(lifecycle.StateActive)
		for _, c := range []struct {
			name     string
			disabled bool // the user's state before
			change   func(u lifecycle.User) (lifecycle.User, error)
		}{
			{"create", false, func(u lifecycle.User) (lifecycle.User, error) {
				in := full
				in.Name, in.State = u.Name, disabled
				return m.CreateUser(ctx, "test", in)
			}},
			{"update profile", false, func(u lifecycle.User) (lifecycle.User, error) {
				return m.UpdateUser(ctx, "test", u.Name, lifecycle.UserInput{Groups: &moreGroups, Attributes: &moreAttrs,
					Country: ptr("fr"), Phone: ptr("+33 1 23 45 67 89"), DisplayName: ptr("Pat B")})
			}},
			{"update state and same profile", false, func(u lifecycle.User) (lifecycle.User, error) {
				in := same
				in.State = disabled
				return m.UpdateUser(ctx, "test", u.Name, in)
			}},
			{"update state alone", true, func(u lifecycle.User) (lifecycle.User, error) {
				return m.UpdateUser(ctx, "test", u.Name, lifecycle.UserInput{State: active})
			}},
			{"update profile, state as it is", true, func(u lifecycle.User) (lifecycle.User, error) {
				return m.UpdateUser(ctx, "test", u.Name, lifecycle.UserInput{Email: ptr("new@example.com"), State: disabled})
			}},
			{"update profile and state", false, func(u lifecycle.User) (lifecycle.User, error) {
				return m.UpdateUser(ctx, "test", u.Name, lifecycle.UserInput{Groups: &moreGroups, State: disabled, IfRevision: &u.Revision, IfUser: u.ID})
			}},
			{"edit", false, func(u lifecycle.User) (lifecycle.User, error) {
				return m.EditUser(ctx, "test", u.Name, func(u lifecycle.User) *lifecycle.UserInput {
					g := append(u.Groups, "A")
					return &lifecycle.UserInput{Groups: &g}
				})
			}},
			{"disable", false, func(u lifecycle.User) (lifecycle.User, error) {
				return m.SetUserState(ctx, "test", u.Name, true)
			}},
			{"enable", true, func(u lifecycle.User) (lifecycle.User, error) {
				return m.SetUserState(ctx, "test", u.Name, false)
			}},
			{"disableAt", false, func(u lifecycle.User) (lifecycle.User, error) {
				return m.SetUserStateAt(ctx, "test", u.Name, true, u.ID, u.Revision)
			}},
			{"enableAt", true, func(u lifecycle.User) (lifecycle.User, error) {
				return m.SetUserStateAt(ctx, "test", u.Name, false, "", u.Revision)
			}},
		} {
			for _, race := range []bool{false, true} {
				user := fmt.Sprintf("f-%d-%v", len(c.name), race) + c.name[:3]
				before := lifecycle.User{Name: user}
				if c.name != "create" {
					in := full
					in.Name = user
					if c.disabled {
						in.State = disabled
					}
					var err error
					if before, err = other.CreateUser(ctx, "test", in); err != nil {
						t.Fatal(err)
					}
					clk.Advance(time.Second + 300*time.Microsecond)
				}
				var want lifecycle.User
				hooked.After = func() {
					var err error
					if want, err = other.GetUser(ctx, user); err != nil {
						t.Error(err)
					}
					if race {
						if err := other.DeleteUser(ctx, "test", user); err != nil {
							t.Error(err)
						}
					}
				}
				got, err := c.change(before)
				if err != nil {
					t.Fatalf("%s (race %v): %v", c.name, race, err)
				}
				if race {
					if _, err := other.GetUser(ctx, user); err == nil {
						t.Fatalf("%s: the user was not deleted", c.name)
					}
				} else if want, err = other.GetUser(ctx, user); err != nil {
					t.Fatal(err)
				}
				x, _ := json.Marshal(got)
				y, _ := json.Marshal(want)
				if string(x) != string(y) || got.Revision != want.Revision || got.ID != want.ID {
					t.Errorf("%s (deleted after its commit: %v) answered\n%s rev %d\nwant, as read after its commit,\n%s rev %d", c.name, race, x, got.Revision, y, want.Revision)
				}
				clk.Advance(time.Second + 700*time.Microsecond)
			}
		}
	})
}
