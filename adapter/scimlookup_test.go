package adapter

import (
	"net/url"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSCIMLookupOfNothing: an id or a userName no resource can have (a NUL, bytes
// that are not UTF-8, which PostgreSQL's text cannot even compare) names nothing: 404 for
// a resource, 400 invalidValue for a member, an empty ListResponse for a filter (RFC 7644
// §3.4.2), as on SQLite. On PostgreSQL the lookup failed as a store fault, answered 503
// (retry), which a directory sends again without end.
func TestSCIMLookupOfNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newSyncHarnessOn(t, st)
		auth := []string{"Authorization", "Bearer " + testSCIMToken, "Content-Type", "application/scim+json"}
		for _, id := range []string{"a%00b", "%FF", "a%C3"} {
			for _, r := range []struct{ method, path, body string }{
				{"GET", "/Users/" + id, ""},
				{"PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`},
				{"DELETE", "/Users/" + id, ""},
				{"GET", "/Groups/" + id, ""},
				{"DELETE", "/Groups/" + id, ""},
			} {
				if code, body, _ := h.do(r.method, SCIMPrefix+r.path, r.body, auth...); code != 404 {
					t.Errorf("%s %s: %d %v, want 404", r.method, r.path, code, body)
				}
			}
		}
		for _, v := range []string{`a\u0000b`, `\u0000`} {
			if code, body, _ := h.do("POST", SCIMPrefix+"/Groups", `{"displayName":"g","members":[{"value":"`+v+`"}]}`, auth...); code != 400 || body["scimType"] != "invalidValue" {
				t.Errorf("member %s: %d %v, want 400 invalidValue", v, code, body)
			}
			f := url.QueryEscape(`userName eq "` + v + `"`)
			if code, body, _ := h.do("GET", SCIMPrefix+"/Users?filter="+f, "", auth...); code != 200 || body["totalResults"] != 0.0 {
				t.Errorf("filter %s: %d %v, want 200 and no user", v, code, body)
			}
		}
		if code, body, _ := h.do("GET", SCIMPrefix+"/Users?filter=userName%20eq%20%22%FF%22", "", auth...); code != 200 || body["totalResults"] != 0.0 {
			t.Errorf("filter on bytes not UTF-8: %d %v, want 200 and no user", code, body)
		}
	})
}
