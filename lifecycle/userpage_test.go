package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
)

// TestUsersByPosition: a page of users by its position (Offset, SCIM's startIndex)
// and the count of those a query selects, its state checked as a listing's is.
func TestUsersByPosition(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, testdb.SQLite(t))
	disabled := lifecycle.StateDisabled
	for _, name := range []string{"Eve", "carol", "dana", "Bob", "al"} {
		in := lifecycle.UserInput{Name: name}
		if name == "dana" {
			in.State = &disabled
		}
		if _, err := m.CreateUser(ctx, "test", in); err != nil {
			t.Fatal(err)
		}
	}
	page, err := m.ListUsers(ctx, lifecycle.UserQuery{Offset: 1, Limit: 2})
	if err != nil || len(page.Users) != 2 || page.Users[0].Name != "Bob" || page.Users[1].Name != "carol" {
		t.Errorf("offset 1, limit 2: %+v, %v; want Bob, carol", page, err)
	}
	page, err = m.ListUsers(ctx, lifecycle.UserQuery{State: lifecycle.StateActive, Offset: 2})
	if err != nil || len(page.Users) != 2 || page.Users[0].Name != "carol" || page.Users[1].Name != "Eve" {
		t.Errorf("active from the third: %+v, %v; want carol, Eve", page, err)
	}
	if n, err := m.CountUsers(ctx, lifecycle.UserQuery{Offset: 3, Limit: 1}); err != nil || n != 5 {
		t.Errorf("CountUsers = %d, %v; want 5", n, err)
	}
	if n, err := m.CountUsers(ctx, lifecycle.UserQuery{State: lifecycle.StateDisabled}); err != nil || n != 1 {
		t.Errorf("CountUsers(disabled) = %d, %v; want 1", n, err)
	}
	var le *lifecycle.Error
	if _, err := m.CountUsers(ctx, lifecycle.UserQuery{State: "gone"}); !errors.As(err, &le) || le.Kind != lifecycle.Invalid {
		t.Errorf("CountUsers(state gone): %v; want invalid", err)
	}
	if _, err := m.ListUsers(ctx, lifecycle.UserQuery{Offset: -1}); !errors.As(err, &le) || le.Kind != lifecycle.Invalid {
		t.Errorf("ListUsers(offset -1): %v; want invalid", err)
	}
}
