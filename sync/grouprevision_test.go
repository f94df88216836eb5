package sync_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestGroupWriteAfterOtherMemberChange: a SCIM group write is made on the group's
// revision as its client read it (If-Match). A member that came or went since by another
// way (the admin API, an Okta event hook) moved that revision, so the write is refused as
// changed rather than made over a membership its client never saw.
func TestGroupWriteAfterOtherMemberChange(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, _ := newQueue(t, st)
		for _, n := range []string{"alice", "bob", "carol"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"}); err != nil {
			t.Fatal(err)
		}
		for _, other := range []struct {
			name   string
			change func() error
		}{
			{"the admin API adds a member", func() error {
				groups := []string{"eng"}
				_, err := m.UpdateUser(ctx, "admin", "alice", lifecycle.UserInput{Groups: &groups})
				return err
			}},
			{"an Okta event hook removes one", func() error {
				return q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupMemberRemove, Source: "okta", Username: "alice", Group: "eng"})
			}},
		} {
			g, err := q.Store.GetGroupByName(ctx, "eng")
			if err != nil {
				t.Fatal(err)
			}
			if err := other.change(); err != nil {
				t.Fatalf("%s: %v", other.name, err)
			}
			err = q.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision,
				Events: []provider.LifecycleEvent{{Type: provider.EventGroupMemberAdd, Source: "scim", Username: "bob", Group: "eng"}}})
			var le *lifecycle.Error
			if !errors.As(err, &le) || le.Code != lifecycle.CodeChanged {
				t.Errorf("after %s, a group write on the revision read before: %v, want %s", other.name, err, lifecycle.CodeChanged)
			}
		}
	})
}
