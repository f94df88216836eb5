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

// numberedUsers creates n users user00000, user00001 … (ids id00000 …, the odd ones
// disabled), each with the profile user00000@example.com, "User user00000", which
// profile (if not nil) may change.
func numberedUsers(t *testing.T, st store.Store, now time.Time, n int, profile func(i int, name string, p *store.Profile)) {
	t.Helper()
	cs := make([]store.UserChange, 0, n)
	for i := range n {
		name := fmt.Sprintf("user%05d", i)
		p := &store.Profile{Email: name + "@example.com", DisplayName: "User " + name}
		if profile != nil {
			profile(i, name, p)
		}
		cs = append(cs, store.UserChange{Name: name, Create: &store.User{ID: fmt.Sprintf("id%05d", i), Name: name, Disabled: i%2 == 1, CreatedAt: now},
			Profile: p, Now: now})
	}
	for _, err := range st.ApplyUserChanges(t.Context(), cs) {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listCounter counts the pages of users read from the store.
type listCounter struct {
	store.Store
	lists int
}

func (s *listCounter) ListUserRecords(ctx context.Context, q store.UserQuery) ([]store.UserRecord, error) {
	s.lists++
	return s.Store.ListUserRecords(ctx, q)
}

// TestSCIMIDFilterReadsOneUser: GET /Users?filter=id eq "…", which Okta and Entra
// send, read every user, 1,000 at a time, on each request (20 reads at 20,000 users) to
// find the one of the id. It reads that one by its id, and answers as the same filter by
// userName does.
func TestSCIMIDFilterReadsOneUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		const n = 250 // three pages of userPage
		numberedUsers(t, st, now, n, nil)
		counted := &listCounter{Store: st}
		m, err := lifecycle.New(lifecycle.Options{Store: counted})
		if err != nil {
			t.Fatal(err)
		}
		sq := st.(store.SyncQueue)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq}, Log: log}).Init()
		srv := New(Options{Log: log, Sync: &Sync{Queue: q, Manager: m, SCIMToken: testSCIMToken, userPage: userPage}})
		h := &syncHarness{t: t, h: srv.Handler(), srv: srv, m: m, q: q, st: st}
		get := func(query string) (int, map[string]any) {
			t.Helper()
			code, out, _ := h.scim("GET", "/Users?"+query, "")
			return code, out
		}
		for _, c := range []struct{ byID, byName string }{
			{`filter=id eq "id00124"`, `filter=userName eq "user00124"`},
			{`filter=id eq "id00125" and active eq false`, `filter=userName eq "user00125" and active eq false`},
			{`filter=id eq "id00124" and active eq false`, `filter=userName eq "user00124" and active eq false`},
			{`filter=id eq "id00124" and displayName eq "user user00124"`, `filter=userName eq "user00124" and displayName eq "user user00124"`},
			{`filter=id eq "id00124"&startIndex=2`, `filter=userName eq "user00124"&startIndex=2`},
			{`filter=id eq "id00124"&count=0`, `filter=userName eq "user00124"&count=0`},
			{`filter=id eq "id00124"&attributes=userName`, `filter=userName eq "user00124"&attributes=userName`},
			{`filter=id eq "id00124"&excludedAttributes=emails`, `filter=userName eq "user00124"&excludedAttributes=emails`},
			{`filter=id eq "ID00124"`, `filter=userName eq "nobody"`},
			{`filter=id eq "nobody"`, `filter=userName eq "nobody"`},
			{`filter=id eq "id00124" and id eq "id00125"`, `filter=userName eq "nobody"`},
		} {
			enc := func(s string) string {
				v, err := url.ParseQuery(s)
				if err != nil {
					t.Fatal(err)
				}
				return v.Encode()
			}
			counted.lists = 0
			code, got := get(enc(c.byID))
			if counted.lists != 0 {
				t.Errorf("%s read %d pages of users, want none (a lookup by id)", c.byID, counted.lists)
			}
			wcode, want := get(enc(c.byName))
			if code != wcode || !cmp.Equal(want, got) {
				t.Errorf("%s: %d, %s: %d; (-want +got)\n%s", c.byName, wcode, c.byID, code, cmp.Diff(want, got))
			}
		}
	})
}
