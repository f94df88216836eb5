package lifecycle_test

import (
	"context"
	"slices"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestStateWithTheSameProfileRecordsTheStateAlone: an update that gives the whole
// profile as it is with another state (a SCIM client's PUT deactivating a user, the whole
// resource sent again) records the state change alone. It also recorded a users.update
// that changed nothing, its reason empty, as if the profile had been edited. One that gives
// the state the user has with a new field records the update alone: it also recorded a
// users.disable (or .enable) of a user already in that state.
func TestStateWithTheSameProfileRecordsTheStateAlone(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		groups := []string{"staff"}
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "pat", Email: ptr("pat@example.com"), DisplayName: ptr("Pat"), Groups: &groups}); err != nil {
			t.Fatal(err)
		}
		// The domain in another case: the same address as stored.
		u, err := m.UpdateUser(ctx, "test", "pat", lifecycle.UserInput{Email: ptr("pat@EXAMPLE.com"), DisplayName: ptr("Pat"), Groups: &groups,
			State: ptr(lifecycle.StateDisabled)})
		if err != nil || u.State != lifecycle.StateDisabled || u.Email != "pat@example.com" || u.DisplayName != "Pat" || !slices.Equal(u.Groups, groups) {
			t.Fatalf("deactivated with its profile as it is: %+v, %v", u, err)
		}
		page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: "pat"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range page.Events {
			got = append(got, ev.Action+" "+ev.Outcome+" "+ev.Reason)
		}
		if want := []string{"admin.users.disable SUCCESS ", "admin.users.create SUCCESS "}; !slices.Equal(got, want) {
			t.Errorf("records %q, want %q", got, want)
		}
		// The state it has with a new display name: the display name alone.
		u, err = m.UpdateUser(ctx, "test", "pat", lifecycle.UserInput{DisplayName: ptr("Pat B"), State: ptr(lifecycle.StateDisabled)})
		if err != nil || u.State != lifecycle.StateDisabled || u.DisplayName != "Pat B" {
			t.Fatalf("a new display name, the state as it is: %+v, %v", u, err)
		}
		page, err = m.QueryAudit(ctx, lifecycle.AuditQuery{User: "pat", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := page.Events[0].Action+" "+page.Events[0].Reason, "admin.users.update displayName"; got != want {
			t.Errorf("latest record %q, want %q", got, want)
		}
		page, err = m.QueryAudit(ctx, lifecycle.AuditQuery{User: "pat"})
		if err != nil || len(page.Events) != 3 {
			t.Errorf("%d records, want 3 (%v): %+v", len(page.Events), err, page.Events)
		}
	})
}
