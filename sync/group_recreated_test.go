package sync_test

import (
	"context"
	"slices"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// groupWriteAfter is a group store whose next group write first runs before: another
// client's change committed after the write read its members, before its commit.
type groupWriteAfter struct {
	store.SyncQueue
	before func()
}

func (s *groupWriteAfter) ApplyGroupChange(ctx context.Context, c store.GroupChange) error {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.SyncQueue.ApplyGroupChange(ctx, c)
}

// TestGroupWriteChangesTheMemberItRead: a SCIM group write reads each member it
// adds or removes and writes the member's whole profile back, on the condition of the
// revision read. A member deleted and created again under its name meanwhile (by the
// admin API, an import) is another user, its revision restarted at the one read: the old
// user's profile was written over the new one's (its e-mail address the old one's). The
// write is made on the user read too, and made again on the new user.
func TestGroupWriteChangesTheMemberItRead(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, _ := newQueue(t, st)
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice", Email: str("old@example.com")}); err != nil {
			t.Fatal(err)
		}
		if err := q.ApplyNow(ctx, provider.LifecycleEvent{Type: provider.EventGroupCreate, Source: "scim", Group: "eng"}); err != nil {
			t.Fatal(err)
		}
		g, err := q.Store.GetGroupByName(ctx, "eng")
		if err != nil {
			t.Fatal(err)
		}
		hooked := &groupWriteAfter{SyncQueue: q.Store}
		a := *q.Applier
		a.Groups = hooked
		hq := &sync.Queue{Store: q.Store, Applier: &a, Now: q.Now}
		var again lifecycle.User
		hooked.before = func() {
			if err := m.DeleteUser(ctx, "test", "alice"); err != nil {
				t.Error(err)
			}
			if again, err = m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice", Email: str("new@example.com")}); err != nil {
				t.Error(err)
			}
		}
		if err := hq.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision,
			Events: []provider.LifecycleEvent{{Type: provider.EventGroupMemberAdd, Source: "scim", Username: "alice", Group: "eng"}}}); err != nil {
			t.Fatal(err)
		}
		u, err := m.GetUser(ctx, "alice")
		if err != nil || u.ID != again.ID || u.Email != "new@example.com" || !slices.Equal(u.Groups, []string{"eng"}) {
			t.Fatalf("the new alice (%s, new@example.com) after a group write added her: %+v, %v", again.ID, u, err)
		}
	})
}
