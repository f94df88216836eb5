package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/emfa/emfa/store"
)

// testUserRecordsByPosition: a page of users by its position (UserQuery.Offset, a SCIM
// listing's startIndex) is the slice of the full listing, in its order (the bytes of
// the folded names), its groups filled in; CountUserRecords counts what the query
// selects, whatever its After, Offset and Limit.
func testUserRecordsByPosition(t *testing.T, s store.Store) {
	ctx := t.Context()
	var changes []store.UserChange
	for i, name := range []string{"bob", "alice", "Alex", "al", "Zed", "éva", "ÉVA", "carol"} {
		u := store.User{ID: fmt.Sprint("u", i), Name: name, CreatedAt: at(0), Disabled: name == "Alex" || name == "bob"}
		groups := []string{"all"}
		if store.FoldName(name)[0] == 'a' {
			groups = append(groups, "a-team")
		}
		changes = append(changes, store.UserChange{Name: name, Create: &u, Profile: &store.Profile{Groups: groups}, Now: at(0)})
	}
	mustApply(t, s, changes...)
	no, yes := false, true
	for _, tc := range []struct {
		name  string
		q     store.UserQuery
		want  []string
		count int
	}{
		{"first page", store.UserQuery{Limit: 3}, []string{"al", "Alex", "alice"}, 8},
		{"by offset", store.UserQuery{Offset: 2, Limit: 3}, []string{"alice", "bob", "carol"}, 8},
		{"the end", store.UserQuery{Offset: 6, Limit: 3}, []string{"ÉVA", "éva"}, 8},
		{"past the end", store.UserQuery{Offset: 8, Limit: 3}, nil, 8},
		{"far past the end", store.UserQuery{Offset: 1000, Limit: 3}, nil, 8},
		{"offset of enabled", store.UserQuery{Disabled: &no, Offset: 1, Limit: 2}, []string{"alice", "carol"}, 6},
		{"offset of disabled", store.UserQuery{Disabled: &yes, Offset: 1}, []string{"bob"}, 2},
		{"offset in a group", store.UserQuery{Group: "a-team", Offset: 1, Limit: 1}, []string{"Alex"}, 3},
		{"offset after a prefix", store.UserQuery{Prefix: "AL", Offset: 2}, []string{"alice"}, 3},
		{"offset after the cursor", store.UserQuery{After: "alice", Offset: 1, Limit: 2}, []string{"carol", "Zed"}, 8},
		{"none", store.UserQuery{Prefix: "x", Offset: 1}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := s.ListUserRecords(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Name)
				if len(r.Profile.Groups) == 0 {
					t.Errorf("%s listed without its groups", r.Name)
				}
			}
			diff(t, "names", tc.want, got)
			n, err := s.CountUserRecords(ctx, tc.q)
			if err != nil || n != tc.count {
				t.Errorf("CountUserRecords = %d, %v; want %d", n, err, tc.count)
			}
		})
	}
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		if n, err := s.CountUserRecords(ctx, store.UserQuery{Prefix: bad}); err != nil || n != 0 {
			t.Errorf("CountUserRecords(prefix %q) = %d, %v; want 0", bad, n, err)
		}
		if n, err := s.CountUserRecords(ctx, store.UserQuery{Group: bad}); err != nil || n != 0 {
			t.Errorf("CountUserRecords(group %q) = %d, %v; want 0", bad, n, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.CountUserRecords(canceled, store.UserQuery{})
	wantErr(t, "CountUserRecords with a canceled context", err, context.Canceled)
}
