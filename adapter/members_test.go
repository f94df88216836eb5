package adapter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// nameReads is a sync queue store that counts its reads of users' names by their ids,
// one or many at a time.
type nameReads struct {
	store.SyncQueue
	calls atomic.Int64
}

func (s *nameReads) UserNameByID(ctx context.Context, id string) (string, error) {
	s.calls.Add(1)
	return s.SyncQueue.UserNameByID(ctx, id)
}

func (s *nameReads) UserNamesByID(ctx context.Context, ids []string) (map[string]string, error) {
	s.calls.Add(1)
	return s.SyncQueue.UserNamesByID(ctx, ids)
}

// d92Members creates n users (one batch, straight in the store) and returns the SCIM
// members array that names them all, and their names.
func d92Members(tb testing.TB, st store.Store, n int) (members []any, names []string) {
	tb.Helper()
	changes := make([]store.UserChange, n)
	for i := range changes {
		u := store.User{ID: fmt.Sprintf("d92-%06d", i), Name: fmt.Sprintf("d92-user-%06d", i), CreatedAt: time.Unix(1_700_000_000, 0)}
		changes[i] = store.UserChange{Name: u.Name, Create: &u, Now: u.CreatedAt}
		members = append(members, map[string]any{"value": u.ID})
		names = append(names, u.Name)
	}
	for i, err := range st.ApplyUserChanges(context.Background(), changes) {
		if err != nil {
			tb.Fatalf("create user %d: %v", i, err)
		}
	}
	return members, names
}

// TestGroupPutReadsMembersAtOnce: a group PUT (or POST, or a PATCH that adds
// members) read each member's name by its id one at a time: a directory's group of
// 50,000 was 50,000 reads before anything was written. They are read at once now (the
// store reads them in chunks of its own), and an id that names no user is still refused
// 400 by that id, the first of them in the request's order. 200 members: one read
// against 200 tells; the store's chunks are its conformance suite's (UserNamesByID), and
// 1,200 members took the PUT past SCIM's 10 s under the race detector on a loaded CI.
func TestGroupPutReadsMembersAtOnce(t *testing.T) {
	h := newSyncHarness(t)
	const n = 200
	members, _ := d92Members(t, h.st, n)
	_, path := h.created("/Groups", `{"displayName":"d92-big"}`)
	reads := &nameReads{SyncQueue: h.q.Store}
	h.q.Store = reads

	body := func(ms []any) string {
		var b strings.Builder
		b.WriteString(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"d92-big","members":[`)
		for i, m := range ms {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"value":%q}`, m.(map[string]any)["value"])
		}
		b.WriteString(`]}`)
		return b.String()
	}
	code, out, _ := h.scim("PUT", path, body(members))
	if code != http.StatusOK {
		t.Fatalf("PUT the group with %d members: %d %v", n, code, out)
	}
	if got, _ := out["members"].([]any); len(got) != n {
		t.Errorf("the group has %d members, want %d", len(got), n)
	}
	if c := reads.calls.Load(); c > 1 {
		t.Errorf("PUT with %d members read users' names by id %d times, want one read", n, c)
	}
	// Unknown ids: the first in the request's order is the one named.
	withUnknown := append([]any{members[0], map[string]any{"value": "nobody-2"}}, members[1:]...)
	withUnknown = append(withUnknown, map[string]any{"value": "nobody-1"})
	code, out, _ = h.scim("PUT", path, body(withUnknown))
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["detail"]), `no user with id nobody-2`) {
		t.Errorf("PUT with unknown members: %d %v, want 400 naming nobody-2", code, out["detail"])
	}
}

// BenchmarkMemberNames: the member lookup of a group PUT of 50,000 members
// alone (the write that follows is another matter), on SQLite and PostgreSQL: at once
// (memberNames, UserNamesByID), and one at a time as it was (UserNameByID per member),
// side by side so that both run under the same load.
func BenchmarkMemberNames(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}} {
		b.Run(db.name, func(b *testing.B) {
			h := newSyncHarnessOn(b, db.open(b))
			members, names := d92Members(b, h.st, 50_000)
			api := &syncAPI{o: Sync{Queue: h.q}}
			b.Run("at-once", func(b *testing.B) {
				for b.Loop() {
					got, err := api.memberNames(context.Background(), members)
					if err != nil || len(got) != len(names) || got[len(got)-1] != names[len(names)-1] {
						b.Fatalf("memberNames: %d names, %v", len(got), err)
					}
				}
			})
			b.Run("one-at-a-time", func(b *testing.B) {
				for b.Loop() {
					for _, m := range members {
						if _, err := h.q.Store.UserNameByID(context.Background(), m.(map[string]any)["value"].(string)); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		})
	}
}
