package storetest

import (
	"fmt"
	"testing"

	"github.com/emfa/emfa/store"
)

// testUserRecordsByExternalID: UserQuery.ExternalID keeps the users whose attribute
// store.ExternalIDAttribute is it, byte for byte (SCIM's externalId is caseExact), in
// the listing's order, with the other fields of the query; the same value under another
// attribute is not it; a value no text column holds selects none, without an error; a
// changed profile is found by its new value alone.
func testUserRecordsByExternalID(t *testing.T, s store.Store) {
	ctx := t.Context()
	odd := `a"b\c<é>&/`
	ext := map[string]map[string]string{
		"al":    {store.ExternalIDAttribute: "x1"},
		"Alex":  {store.ExternalIDAttribute: "X1"},
		"alice": {store.ExternalIDAttribute: "x1", "scim.givenName": "Alice"},
		"bob":   nil,
		"carol": {"scim.givenName": "x1"},
		"Zed":   {store.ExternalIDAttribute: odd},
		"éva":   {store.ExternalIDAttribute: "x1 "},
		"ÉVA":   {store.ExternalIDAttribute: "x1"},
	}
	var changes []store.UserChange
	i := 0
	for name, attrs := range ext {
		u := store.User{ID: fmt.Sprint("u", i), Name: name, CreatedAt: at(0), Disabled: name == "Alex" || name == "ÉVA"}
		i++
		groups := []string{"all"}
		if store.FoldName(name)[0] == 'a' {
			groups = append(groups, "a-team")
		}
		changes = append(changes, store.UserChange{Name: name, Create: &u, Profile: &store.Profile{Groups: groups, Attributes: attrs}, Now: at(0)})
	}
	// A user without a profile row.
	changes = append(changes, store.UserChange{Name: "dan", Create: &store.User{ID: "u-dan", Name: "dan", CreatedAt: at(0)}, Now: at(0)})
	mustApply(t, s, changes...)
	no, yes := false, true
	check := func(t *testing.T, q store.UserQuery, want []string, count int) {
		t.Helper()
		recs, err := s.ListUserRecords(ctx, q)
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
		diff(t, "names", want, got)
		if n, err := s.CountUserRecords(ctx, q); err != nil || n != count {
			t.Errorf("CountUserRecords = %d, %v; want %d", n, err, count)
		}
	}
	for _, tc := range []struct {
		name  string
		q     store.UserQuery
		want  []string
		count int
	}{
		{"its users, in order", store.UserQuery{ExternalID: "x1"}, []string{"al", "alice", "ÉVA"}, 3},
		{"case exact", store.UserQuery{ExternalID: "X1"}, []string{"Alex"}, 1},
		{"no trimming", store.UserQuery{ExternalID: "x1 "}, []string{"éva"}, 1},
		{"escaped in JSON", store.UserQuery{ExternalID: odd}, []string{"Zed"}, 1},
		{"none", store.UserQuery{ExternalID: "x"}, nil, 0},
		{"another attribute's value", store.UserQuery{ExternalID: "Alice"}, nil, 0},
		{"enabled", store.UserQuery{ExternalID: "x1", Disabled: &no}, []string{"al", "alice"}, 2},
		{"disabled", store.UserQuery{ExternalID: "x1", Disabled: &yes}, []string{"ÉVA"}, 1},
		{"in a group", store.UserQuery{ExternalID: "x1", Group: "a-team"}, []string{"al", "alice"}, 2},
		{"with a prefix", store.UserQuery{ExternalID: "x1", Prefix: "ALI"}, []string{"alice"}, 1},
		{"a page", store.UserQuery{ExternalID: "x1", Limit: 1}, []string{"al"}, 3},
		{"after the cursor", store.UserQuery{ExternalID: "x1", After: "AL"}, []string{"alice", "ÉVA"}, 3},
		{"by offset", store.UserQuery{ExternalID: "x1", Offset: 1, Limit: 1}, []string{"alice"}, 3},
		{"a NUL", store.UserQuery{ExternalID: "x1\x00"}, nil, 0},
		{"not UTF-8", store.UserQuery{ExternalID: "x1\xff"}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.q, tc.want, tc.count) })
	}
	mustApply(t, s, store.UserChange{Name: "alice", Profile: &store.Profile{Groups: []string{"all"}, Attributes: map[string]string{store.ExternalIDAttribute: "x2"}}, Now: at(1)})
	t.Run("changed", func(t *testing.T) {
		check(t, store.UserQuery{ExternalID: "x1"}, []string{"al", "ÉVA"}, 2)
		check(t, store.UserQuery{ExternalID: "x2"}, []string{"alice"}, 1)
	})
}
