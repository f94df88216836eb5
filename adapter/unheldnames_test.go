package adapter

import (
	"net/http"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestAdminNameNoStoreHolds: a user name or factor id in the admin API's URL that holds
// a NUL or bytes that are not UTF-8 names no user or factor, on PostgreSQL (whose text
// can hold neither, and which refused the query: a 503) as on SQLite: 404.
func TestAdminNameNoStoreHolds(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newAdminHarnessOn(t, st)
		if code, out := h.admin(t, h.write, http.MethodPost, AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
			t.Fatalf("create alice: %d %v", code, out)
		}
		for _, bad := range []string{"a%00b", "a%FFb"} {
			for _, c := range []struct{ method, path, body string }{
				{http.MethodGet, "/users/" + bad, ""},
				{http.MethodDelete, "/users/" + bad, ""},
				{http.MethodPatch, "/users/" + bad, `{"displayName":"x"}`},
				{http.MethodPost, "/users/" + bad + "/disable", ""},
				{http.MethodPost, "/users/" + bad + "/reset", `{}`},
				{http.MethodGet, "/users/" + bad + "/factors", ""},
				{http.MethodPost, "/users/" + bad + "/activation-link", `{}`},
				{http.MethodGet, "/users/alice/factors/" + bad, ""},
				{http.MethodPatch, "/users/alice/factors/" + bad, `{"label":"x"}`},
				{http.MethodDelete, "/users/alice/factors/" + bad, ""},
				{http.MethodPost, "/users/alice/factors/" + bad + "/disable", ""},
				{http.MethodPost, "/users/alice/factors/" + bad + "/unlock", ""},
			} {
				code, out := h.admin(t, h.write, c.method, AdminPrefix+c.path, c.body)
				if code >= 500 {
					t.Errorf("%s %s: %d %v; want no fault (a 4xx, as for a name no user has)", c.method, c.path, code, out)
				}
			}
		}
	})
}
