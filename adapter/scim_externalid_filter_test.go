package adapter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// unselecting is a store that selects users by the fields of a UserQuery the adapter
// had before lookups by externalId, and ignores any other: a listing through it takes
// the path that reads every user and matches each, the answer to compare with.
type unselecting struct{ store.Store }

func plainQuery(q store.UserQuery) store.UserQuery {
	return store.UserQuery{Prefix: q.Prefix, Group: q.Group, Disabled: q.Disabled, After: q.After, Offset: q.Offset, Limit: q.Limit}
}

func (s unselecting) ListUserRecords(ctx context.Context, q store.UserQuery) ([]store.UserRecord, error) {
	return s.Store.ListUserRecords(ctx, plainQuery(q))
}

func (s unselecting) CountUserRecords(ctx context.Context, q store.UserQuery) (int, error) {
	return s.Store.CountUserRecords(ctx, plainQuery(q))
}

// TestSCIMExternalIDFilterReadsItsUsers: GET /Users?filter=externalId eq "…", which
// Okta and Entra ID send before each create or update, read every user, 1,000 at a time
// (3 reads at 2,500 users, 20 at 20,000), to find the one of that externalId. The store
// selects them by the value; the answer is the one of reading every user.
func TestSCIMExternalIDFilterReadsItsUsers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		const n = 250 // three pages of userPage
		odd := `a"b\c<>&é/x`
		var cs []store.UserChange
		for i := range n {
			name := fmt.Sprintf("user%05d", i)
			attrs := map[string]string{"scim.externalId": fmt.Sprintf("ext%05d", i)}
			switch {
			case i%50 == 3:
				attrs = nil // no externalId
			case i == 10 || i == 200 || i == 201:
				attrs["scim.externalId"] = "shared"
			case i == 7:
				attrs["scim.externalId"] = "Ext-Mixed"
			case i == 8:
				attrs["scim.externalId"] = odd
			case i == 9:
				attrs = map[string]string{"scim.givenName": "ext00009"} // the value under another attribute
			}
			cs = append(cs, store.UserChange{Name: name, Create: &store.User{ID: fmt.Sprintf("id%05d", i), Name: name, Disabled: i%2 == 1, CreatedAt: now},
				Profile: &store.Profile{Email: name + "@example.com", DisplayName: "User " + name, Attributes: attrs}, Now: now})
		}
		for _, err := range st.ApplyUserChanges(ctx, cs) {
			if err != nil {
				t.Fatal(err)
			}
		}
		counted := &listCounter{Store: st}
		h, ref := readingHarness(t, st, counted, userPage), readingHarness(t, st, unselecting{st}, userPage)
		for _, c := range []struct {
			query string
			pages int // most pages of users read; -1: not counted
		}{
			{`filter=externalId eq "ext00124"`, 1},
			{`filter=externalId eq "EXT00124"`, 1},
			{`filter=externalId eq "Ext-Mixed"`, 1},
			{`filter=externalId eq "ext-mixed"`, 1},
			{`filter=externalId eq ` + fmt.Sprintf("%q", odd), 1},
			{`filter=externalId eq "ext00009"`, 1},
			{`filter=externalId eq "ext00003"`, 1},
			{`filter=externalId eq "nobody"`, 1},
			{`filter=externalId eq "shared"`, 1},
			{`filter=externalId eq "shared"&startIndex=2`, 1},
			{`filter=externalId eq "shared"&startIndex=2&count=1`, 1},
			{`filter=externalId eq "shared"&startIndex=9`, 1},
			{`filter=externalId eq "shared"&count=0`, 1},
			{`filter=externalId eq "shared" and active eq false`, 1},
			{`filter=active eq true and externalId eq "shared"`, 1},
			{`filter=externalId eq "shared" and displayName eq "user USER00200"`, 1},
			{`filter=externalId eq "shared" and externalId eq "ext00124"`, 1},
			{`filter=externalId eq "ext00124"&attributes=userName`, 1},
			{`filter=externalId eq "ext00124"&attributes=externalId`, 1},
			{`filter=externalId eq "ext00124"&excludedAttributes=emails`, 1},
			{`filter=urn:ietf:params:scim:schemas:core:2.0:User:externalId eq "ext00124"`, 1},
			{`filter=externalId eq "ext00124" and userName eq "user00124"`, 0},
			{`filter=externalId eq "ext00124" and id eq "id00124"`, 0},
			{`filter=externalId eq ""`, -1},
			{`filter=externalId eq "" and active eq false`, -1},
		} {
			sameListing(t, h, ref, counted, c.query, c.pages)
		}
	})
}

// sameListing lists users with query through h, whose store counted counts the pages of
// users read, and through ref, which reads every user: it fails t when h read more than
// pages (-1: not counted) or answered otherwise. It returns h's answer.
func sameListing(t *testing.T, h, ref *syncHarness, counted *listCounter, query string, pages int) map[string]any {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	counted.lists = 0
	code, got, _ := h.scim("GET", "/Users?"+v.Encode(), "")
	if pages >= 0 && counted.lists > pages {
		t.Errorf("%s read %d pages of users, want at most %d", query, counted.lists, pages)
	}
	wcode, want, _ := ref.scim("GET", "/Users?"+v.Encode(), "")
	if code != wcode || !cmp.Equal(want, got) {
		t.Errorf("%s: %d, want %d; (-want +got)\n%s", query, code, wcode, cmp.Diff(want, got))
	}
	return got
}

// userPage is how many users the tests' listings that no index selects read at a time:
// a tenth of the server's 1,000, so that three pages are 250 users, not 2,500 (each
// written and read again by every filter, 25 to 35 times, took a minute of the
// package's time on SQLite under the race detector).
const userPage = 100

// readingHarness is a SCIM server on st whose users are read through s (a store that
// counts, or one that selects nothing by index), page users at a time (0: the server's
// 1,000), its queue on st's.
func readingHarness(t *testing.T, st, s store.Store, page int) *syncHarness {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := lifecycle.New(lifecycle.Options{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	sq := st.(store.SyncQueue)
	q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq}, Log: log}).Init()
	srv := New(Options{Log: log, Sync: &Sync{Queue: q, Manager: m, SCIMToken: testSCIMToken, userPage: page}})
	return &syncHarness{t: t, h: srv.Handler(), srv: srv, m: m, q: q, st: st}
}
