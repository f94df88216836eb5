package adapter

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSCIMEmailDisplayNameFilterReadsItsUsers: GET /Users?filter=emails[type eq
// "work"].value eq "…" (or emails.value, or displayName), which Entra ID and Okta send
// as matching attributes, read every user, 1,000 at a time (3 reads at 2,500 users, 20
// at 20,000). The store selects the users whose value folds to one the value's case
// variants fold to; the answer is the one of reading every user.
func TestSCIMEmailDisplayNameFilterReadsItsUsers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		const n = 250 // three pages of userPage
		numberedUsers(t, st, now, n, func(i int, name string, p *store.Profile) {
			switch {
			case i%50 == 3:
				p.Email, p.DisplayName = "", "" // none
			case i == 10 || i == 200 || i == 201:
				p.Email, p.DisplayName = "Shared@Example.com", "Shared Name"
			case i == 11:
				p.Email, p.DisplayName = "shared@example.COM", "SHARED NAME"
			case i == 12:
				p.Attributes = map[string]string{"scim.emailType": "home"}
			case i == 13:
				p.Email, p.DisplayName = "\u212aelvin@example.com", "\u212aelvin \u017fam" // Kelvin sign, long s
			case i == 14:
				p.Email, p.DisplayName = "kelvin@example.com", "Kelvin Sam"
			case i == 15:
				p.DisplayName = "José García"
			case i == 16:
				p.DisplayName = "JOSÉ GARCÍA"
			case i == 17:
				p.DisplayName = "Σίσυφος"
			case i == 18:
				p.DisplayName = "ΣΊΣΥΦΟΣ"
			case i == 19:
				p.DisplayName = "σίσυφοσ"
			case i == 20:
				p.Attributes = map[string]string{"scim.displayName": "shared name"} // the value under another attribute
			}
		})
		counted := &listCounter{Store: st}
		h, ref := readingHarness(t, st, counted, userPage), readingHarness(t, st, unselecting{st}, userPage)
		for _, c := range []struct {
			query string
			pages int // most pages of users read; -1: not counted
		}{
			{`filter=emails[type eq "work"].value eq "user00124@example.com"`, 1},
			{`filter=emails[type eq "work"].value eq "USER00124@example.com"`, 1},
			{`filter=emails[type eq "home"].value eq "user00012@example.com"`, 1},
			{`filter=emails[type eq "work"].value eq "user00012@example.com"`, 1},
			{`filter=emails[type eq "Work"].value eq "user00124@Example.com"`, 1},
			{`filter=emails.value eq "user00124@example.com"`, 1},
			{`filter=emails eq "user00124@example.com"`, 1},
			{`filter=emails.value eq "shared@example.com"`, 1},
			{`filter=emails.value eq "shared@example.com"&startIndex=2&count=2`, 1},
			{`filter=emails.value eq "shared@example.com"&startIndex=9`, 1},
			{`filter=emails.value eq "shared@example.com"&count=0`, 1},
			{`filter=emails.value eq "shared@example.com" and active eq false`, 1},
			{`filter=emails.value eq "shared@example.com" and displayName eq "shared name"`, 1},
			{`filter=emails.value eq "kelvin@example.com"`, 1},
			{`filter=emails.value eq "KELVIN@EXAMPLE.COM"`, 1},
			{`filter=emails.value eq "\u212aelvin@example.com"`, 1},
			{`filter=emails.value eq "nobody@example.com"`, 1},
			{`filter=emails.value eq "user00124@example.com"&attributes=userName`, 1},
			{`filter=urn:ietf:params:scim:schemas:core:2.0:User:emails.value eq "user00124@example.com"`, 1},
			{`filter=displayName eq "User user00124"`, 1},
			{`filter=displayName eq "user USER00124"`, 1},
			{`filter=displayName eq "shared name"`, 1},
			{`filter=displayName eq "Kelvin Sam"`, 1},
			{`filter=displayName eq "\u212aELVIN \u017fAM"`, 1},
			{`filter=displayName eq "josé garcía"`, 1},
			{`filter=displayName eq "José García"`, 1},
			{`filter=displayName eq "σίσυφος"`, 1}, // 432 case variants: by those of "σίσυ"
			{`filter=displayName eq "ΣΊΣΥΦΟΣ"`, 1},
			{`filter=displayName eq "Σίσ"`, 1},
			{`filter=displayName eq "nobody"`, 1},
			{`filter=displayName eq "shared name" and emails.value eq "shared@example.com"`, 1},
			{`filter=emails.value eq ""`, -1},
			{`filter=displayName eq ""`, -1},
			{`filter=displayName eq "a\u0000b"`, -1},
		} {
			sameListing(t, h, ref, counted, c.query, c.pages)
		}
	})
}

// TestSCIMFoldKeys: every text equal to a value regardless of case folds to one
// of the value's keys, so the users the store selects by them include every match.
func TestSCIMFoldKeys(t *testing.T) {
	for _, v := range []string{"Al@Example.com", "kelvin sam", "\u212aelvin \u017fam", "José García", "Σίσ", "ß ẞ", "ǅ", "İı", "x\u0000y"} {
		keys, ok := foldKeys(v)
		if !ok {
			t.Fatalf("foldKeys(%q): not ok", v)
		}
		// Each rune replaced by each of its case variants, one position at a time, and
		// the whole in upper and in lower case.
		variants := []string{strings.ToUpper(v), strings.ToLower(v)}
		rs := []rune(v)
		for i, r := range rs {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				w := slices.Clone(rs)
				w[i] = f
				variants = append(variants, string(w))
			}
		}
		for _, w := range variants {
			if strings.EqualFold(w, v) && !slices.Contains(keys, store.FoldText(w)) {
				t.Errorf("foldKeys(%q) = %q: not %q's key %q", v, keys, w, store.FoldText(w))
			}
		}
	}
	for _, v := range []string{"", "a\xffb", "a\ufffdb", "σίσυφος"} {
		if keys, ok := foldKeys(v); ok {
			t.Errorf("foldKeys(%q) = %q, want not ok", v, keys)
		}
	}
}

// BenchmarkSCIMEmailFilter looks a user up by its work e-mail address among 20,000
// (SQLite): by the index, and as before, reading every user (unselecting).
func BenchmarkSCIMEmailFilter(b *testing.B) {
	st := testdb.SQLite(b)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var cs []store.UserChange
	for i := range 20000 {
		name := fmt.Sprintf("user%05d", i)
		cs = append(cs, store.UserChange{Name: name, Create: &store.User{ID: fmt.Sprintf("id%05d", i), Name: name, CreatedAt: now},
			Profile: &store.Profile{Email: name + "@example.com", DisplayName: "User " + name}, Now: now})
	}
	for _, err := range st.ApplyUserChanges(context.Background(), cs) {
		if err != nil {
			b.Fatal(err)
		}
	}
	query := "/Users?" + url.Values{"filter": {`emails[type eq "work"].value eq "User12345@example.com"`}}.Encode()
	for name, s := range map[string]store.Store{"indexed": st, "every user": unselectingSync{st.(syncStore)}} {
		b.Run(name, func(b *testing.B) {
			h := newSyncHarnessOn(b, s)
			for b.Loop() {
				if code, out, _ := h.scim("GET", query, ""); code != 200 || out["totalResults"] != float64(1) {
					b.Fatalf("%d %v", code, out)
				}
			}
		})
	}
}

// unselectingSync is unselecting with the store's sync queue.
type unselectingSync struct{ syncStore }

func (s unselectingSync) ListUserRecords(ctx context.Context, q store.UserQuery) ([]store.UserRecord, error) {
	return s.syncStore.ListUserRecords(ctx, plainQuery(q))
}

func (s unselectingSync) CountUserRecords(ctx context.Context, q store.UserQuery) (int, error) {
	return s.syncStore.CountUserRecords(ctx, plainQuery(q))
}
