package adapter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestBlankIDIsNotFound: a write that names its user (or group) by an empty or blank
// path segment is answered 404, never a fault, and writes nothing, not even an audit
// entry: the admin API's disable and enable (SetUserState, and SetUserStateAt under an
// If-Match, whose user id is the one read, never blank), and SCIM's PATCH, PUT and
// DELETE of a user or group, which find it by its id first.
func TestBlankIDIsNotFound(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	audits := func() int {
		ev, err := h.store.QueryAudit(context.Background(), store.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}
	before := audits()
	for _, user := range []string{"", "%20", "%09", "%C2%A0"} {
		for _, op := range []string{"disable", "enable"} {
			for _, ifMatch := range []string{"", "*", `"x.1"`} {
				req := httptest.NewRequest("POST", AdminPrefix+"/users/"+user+"/"+op, nil)
				req.Header.Set("Authorization", "Bearer "+h.write)
				if ifMatch != "" {
					req.Header.Set("If-Match", ifMatch)
				}
				rec := httptest.NewRecorder()
				h.srv.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusNotFound {
					t.Errorf("POST /users/%s/%s If-Match %q: %d %s, want 404", user, op, ifMatch, rec.Code, rec.Body)
				}
			}
		}
	}
	if n := audits(); n != before {
		t.Errorf("the refused writes left %d audit entries", n-before)
	}
	if u, err := h.manager.GetUser(context.Background(), "alice"); err != nil || u.State != "active" || u.Revision != 1 {
		t.Errorf("alice after them: %+v, %v", u, err)
	}

	s := newSyncHarness(t)
	s.created("/Users", `{"userName":"bob@example.com"}`)
	s.created("/Groups", `{"displayName":"eng"}`)
	for _, path := range []string{"/Users/", "/Users/%20", "/Users/%09", "/Groups/", "/Groups/%20"} {
		for _, w := range []struct{ method, body string }{
			{"PATCH", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`},
			{"PUT", `{"userName":"bob@example.com","displayName":"eng","active":false}`},
			{"DELETE", ""},
		} {
			if code, out, _ := s.scim(w.method, path, w.body); code != http.StatusNotFound {
				t.Errorf("%s %s: %d %v, want 404", w.method, path, code, out)
			}
		}
	}
	if u, ok := s.user("bob@example.com"); !ok || u.State != "active" || u.Revision != 1 {
		t.Errorf("bob after them: %+v", u)
	}
}
