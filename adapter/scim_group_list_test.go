package adapter

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// memberReads is a store that counts its reads of users by group (a group's
// members).
type memberReads struct {
	syncStore
	reads atomic.Int32
}

func (s *memberReads) ListUserRecords(ctx context.Context, q store.UserQuery) ([]store.UserRecord, error) {
	if q.Group != "" {
		s.reads.Add(1)
	}
	return s.syncStore.ListUserRecords(ctx, q)
}

// makeGroups makes n groups g000…, user i a member of groups i%n and (i+1)%n, and of
// "other", a group SCIM has no record of.
func makeGroups(t testing.TB, st store.Store, n, users int) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	sq := st.(store.SyncQueue)
	for i := range n {
		if err := sq.CreateGroup(ctx, store.Group{ID: fmt.Sprintf("gid-%03d", i), Name: fmt.Sprintf("g%03d", i), CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var changes []store.UserChange
	for i := range users {
		name := fmt.Sprintf("user%03d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("USER%03d", i) // members are in name order regardless of case
		}
		u := store.User{ID: fmt.Sprint("uid-", i), Name: name, CreatedAt: now}
		changes = append(changes, store.UserChange{Name: name, Create: &u, Now: now,
			Profile: &store.Profile{Groups: []string{fmt.Sprintf("g%03d", i%n), fmt.Sprintf("g%03d", (i+1)%n), "other"}}})
	}
	for _, err := range st.ApplyUserChanges(ctx, changes) {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSCIMGroupListReadsMembersOnce: GET /Groups read each listed group's members
// with a query of its own (two, with their groups), so a page of 1,000 groups took
// 2,000 round trips, with excludedAttributes=members too (the version hashes the
// members). A page's members are read at once, and each group is listed as GET
// /Groups/{id} answers it (members in the same order, the same version).
func TestSCIMGroupListReadsMembersOnce(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, s store.Store) {
		st := &memberReads{syncStore: s.(syncStore)}
		h := newSyncHarnessOn(t, st)
		const n = 40
		makeGroups(t, st, n, 3*n)
		for _, query := range []string{"", "?excludedAttributes=members", "?startIndex=11&count=20"} {
			st.reads.Store(0)
			code, out, _ := h.scim("GET", "/Groups"+query, "")
			if code != 200 {
				t.Fatalf("GET /Groups%s: %d %v", query, code, out)
			}
			if r := st.reads.Load(); r > 1 {
				t.Errorf("GET /Groups%s read members %d times", query, r)
			}
			res := out["Resources"].([]any)
			if len(res) == 0 {
				t.Fatalf("GET /Groups%s listed nothing", query)
			}
			for _, r := range res {
				g := r.(map[string]any)
				code, one, _ := h.scim("GET", "/Groups/"+g["id"].(string)+query, "")
				if code != 200 {
					t.Fatalf("GET /Groups/%s: %d %v", g["id"], code, one)
				}
				if !reflect.DeepEqual(g, one) {
					t.Fatalf("GET /Groups%s listed\n%v\nGET /Groups/{id} answers\n%v", query, g, one)
				}
				if query == "" && len(g["members"].([]any)) != 6 {
					t.Fatalf("group %v: want 6 members", g)
				}
			}
		}
	})
}

// BenchmarkSCIMGroupList lists 1,000 groups of 3 members each (SQLite).
func BenchmarkSCIMGroupList(b *testing.B) {
	st := testdb.SQLite(b)
	h := newSyncHarnessOn(b, st)
	makeGroups(b, st, 1000, 3000)
	for _, query := range []string{"?count=1000", "?count=1000&excludedAttributes=members"} {
		b.Run(query, func(b *testing.B) {
			for b.Loop() {
				if code, out, _ := h.scim("GET", "/Groups"+query, ""); code != 200 {
					b.Fatalf("%d %v", code, out)
				}
			}
		})
	}
}
