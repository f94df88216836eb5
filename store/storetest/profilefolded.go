package storetest

import (
	"fmt"
	"testing"

	"github.com/emfa/emfa/store"
)

// testUserRecordsByFoldedProfile: UserQuery.Emails and DisplayNames keep the users whose
// e-mail address (display name) folds (store.FoldText) to one of the keys: ASCII case,
// the Kelvin sign and the long s folded, any other letter as it is; in the listing's
// order, with the other fields of the query; an empty list selects none; a key no text column holds selects none, without an error.
func testUserRecordsByFoldedProfile(t *testing.T, s store.Store) {
	ctx := t.Context()
	profiles := map[string]store.Profile{
		"al":    {Email: "Al@Example.com", DisplayName: "Al Bo"},
		"Alex":  {Email: "al@example.COM", DisplayName: "AL BO"},
		"bob":   {Email: "bob@example.com", DisplayName: "José"},
		"carol": {Email: "\u212ar\u017f@example.com", DisplayName: "JOSÉ"},
		"dave":  {Email: "krs@example.com", DisplayName: "josé"},
		"erin":  {DisplayName: "Al@Example.com", Attributes: map[string]string{"scim.email": "al@example.com"}},
	}
	var changes []store.UserChange
	i := 0
	for name, p := range profiles {
		u := store.User{ID: fmt.Sprint("u", i), Name: name, CreatedAt: at(0), Disabled: name == "Alex"}
		i++
		p.Groups = []string{"all"}
		changes = append(changes, store.UserChange{Name: name, Create: &u, Profile: &p, Now: at(0)})
	}
	mustApply(t, s, changes...)
	no := false
	for _, tc := range []struct {
		name  string
		q     store.UserQuery
		want  []string
		count int
	}{
		{"by e-mail, ASCII case folded", store.UserQuery{Emails: []string{"al@example.com"}}, []string{"al", "Alex"}, 2},
		{"the key is folded already", store.UserQuery{Emails: []string{"Al@Example.com"}}, nil, 0},
		{"Kelvin sign and long s", store.UserQuery{Emails: []string{"krs@example.com"}}, []string{"carol", "dave"}, 2},
		{"several keys", store.UserQuery{Emails: []string{"bob@example.com", "al@example.com"}}, []string{"al", "Alex", "bob"}, 3},
		{"none", store.UserQuery{Emails: []string{}}, nil, 0},
		{"an empty address", store.UserQuery{Emails: []string{""}}, []string{"erin"}, 1},
		{"with the state", store.UserQuery{Emails: []string{"al@example.com"}, Disabled: &no}, []string{"al"}, 1},
		{"a page", store.UserQuery{Emails: []string{"al@example.com"}, Offset: 1, Limit: 1}, []string{"Alex"}, 2},
		{"by display name", store.UserQuery{DisplayNames: []string{"al bo"}}, []string{"al", "Alex"}, 2},
		{"other letters as they are", store.UserQuery{DisplayNames: []string{"josé"}}, []string{"bob", "dave"}, 2},
		{"their variants", store.UserQuery{DisplayNames: []string{"josé", "josÉ"}}, []string{"bob", "carol", "dave"}, 3},
		{"both", store.UserQuery{Emails: []string{"al@example.com"}, DisplayNames: []string{"al bo"}}, []string{"al", "Alex"}, 2},
		{"a NUL", store.UserQuery{Emails: []string{"al@example.com\x00"}}, nil, 0},
		{"a NUL among others", store.UserQuery{Emails: []string{"x\x00", "bob@example.com"}}, []string{"bob"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := s.ListUserRecords(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Name)
			}
			diff(t, "names", tc.want, got)
			if n, err := s.CountUserRecords(ctx, tc.q); err != nil || n != tc.count {
				t.Errorf("CountUserRecords = %d, %v; want %d", n, err, tc.count)
			}
		})
	}
}
