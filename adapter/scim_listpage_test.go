package adapter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// userReads is a store that counts the user records it reads and its listings of every
// group.
type userReads struct {
	syncStore
	rows, groupLists atomic.Int32
}

func (s *userReads) ListUserRecords(ctx context.Context, q store.UserQuery) ([]store.UserRecord, error) {
	recs, err := s.syncStore.ListUserRecords(ctx, q)
	s.rows.Add(int32(len(recs)))
	return recs, err
}

func (s *userReads) ListGroups(ctx context.Context) ([]store.Group, error) {
	s.groupLists.Add(1)
	return s.syncStore.ListGroups(ctx)
}

// TestSCIMListPageReadsOnlyItsUsers: an IdP's import pages through GET /Users by
// startIndex and count (Okta's "Import Users"); each page reads its own users from the
// store, not every user (which made paging through N users O(N²)), and only the groups
// of those users, in the order and with the totals of a full listing.
func TestSCIMListPageReadsOnlyItsUsers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, s store.Store) {
		st := &userReads{syncStore: s.(syncStore)}
		h := newSyncHarnessOn(t, st)
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		const n = 300
		var changes []store.UserChange
		var names, active []string
		for i := range n {
			name := fmt.Sprintf("user%03d", i)
			if i%3 == 0 {
				name = strings.ToUpper(name) // the order ignores ASCII case
			}
			disabled := i%4 == 0
			u := store.User{ID: fmt.Sprint("id-", i), Name: name, CreatedAt: now, Disabled: disabled}
			changes = append(changes, store.UserChange{Name: name, Create: &u,
				Profile: &store.Profile{DisplayName: name, Groups: []string{"all", fmt.Sprint("g", i%7)}}, Now: now})
			names = append(names, name)
			if !disabled {
				active = append(active, name)
			}
		}
		for _, err := range st.ApplyUserChanges(ctx, changes) {
			if err != nil {
				t.Fatal(err)
			}
		}
		slices.SortFunc(names, func(a, b string) int { return strings.Compare(store.FoldName(a), store.FoldName(b)) })
		slices.SortFunc(active, func(a, b string) int { return strings.Compare(store.FoldName(a), store.FoldName(b)) })
		// A group SCIM knows: a user's groups name it by id; "all" and the others it does not.
		_, g, _ := h.scim("POST", "/Groups", `{"displayName":"g3"}`)

		for _, tc := range []struct {
			query      string
			all        []string
			start, max int
		}{
			{"startIndex=201&count=10", names, 201, 10},
			{"startIndex=1&count=25", names, 1, 25},
			{"startIndex=295&count=100", names, 295, 100},
			{"count=5", names, 1, 5},
			{"startIndex=0&count=3", names, 1, 3},
			{"startIndex=301&count=10", names, 301, 10},
			{"startIndex=5000", names, 5000, 100},
			{"startIndex=7&count=0", names, 7, 0},
			{"startIndex=3&count=4&filter=active+eq+true", active, 3, 4},
			{"startIndex=3&count=4&filter=active+eq+%22True%22", active, 3, 4},
			{"filter=active+eq+true+and+active+eq+false", nil, 1, 100},
			{"filter=active+eq+null", nil, 1, 100},
		} {
			st.rows.Store(0)
			st.groupLists.Store(0)
			code, list, _ := h.scim("GET", "/Users?"+tc.query, "")
			if code != 200 {
				t.Fatalf("%s: %d %v", tc.query, code, list)
			}
			lo := min(tc.start-1, len(tc.all))
			want := tc.all[lo:min(lo+tc.max, len(tc.all))]
			var got []string
			res, _ := list["Resources"].([]any)
			for _, r := range res {
				u := r.(map[string]any)
				got = append(got, u["userName"].(string))
				gs, _ := u["groups"].([]any)
				for _, x := range gs {
					if x.(map[string]any)["value"] != g["id"] || x.(map[string]any)["display"] != "g3" {
						t.Errorf("%s: %s's groups %v, want only g3 by its id", tc.query, u["userName"], gs)
					}
				}
			}
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("%s: users %v, want %v", tc.query, got, want)
			}
			if list["totalResults"] != float64(len(tc.all)) || list["itemsPerPage"] != float64(len(want)) || list["startIndex"] != float64(tc.start) {
				t.Errorf("%s: totalResults %v itemsPerPage %v startIndex %v, want %d %d %d", tc.query,
					list["totalResults"], list["itemsPerPage"], list["startIndex"], len(tc.all), len(want), tc.start)
			}
			if r := st.rows.Load(); int(r) > tc.max {
				t.Errorf("%s: read %d users from the store for a page of at most %d", tc.query, r, tc.max)
			}
			if l := st.groupLists.Load(); l != 0 {
				t.Errorf("%s: listed every group %d times for a page of users", tc.query, l)
			}
		}
		// Each user in g3 shows it (i%7 == 3).
		_, list, _ := h.scim("GET", "/Users?filter="+`userName+eq+%22user003%22`, "")
		if res, _ := list["Resources"].([]any); len(res) != 1 {
			t.Fatalf("user003: %v", list)
		} else if gs, _ := res[0].(map[string]any)["groups"].([]any); len(gs) != 1 {
			t.Errorf("user003's groups %v, want g3", gs)
		}
	})
}
