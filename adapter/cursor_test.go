package adapter

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestUserCursorNotOneGiven: GET /users's cursor is the last name of a page;
// one that cannot be (not UTF-8 once decoded: a cursor cut or garbled on its way, or
// made up) is refused 400 invalid_parameter, as GET /audit refuses one, on either
// store. On PostgreSQL it reached the query as text that is not UTF-8, which the
// server refuses: the caller was answered 503 unavailable (a retry could never do
// better) and the log had a store fault.
func TestUserCursorNotOneGiven(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", func(t *testing.T) store.Store { return testdb.SQLite(t) }},
		{"postgres", func(t *testing.T) store.Store { return testdb.Postgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newAdminHarnessOn(t, tc.open(t))
			for _, name := range []string{"alice", "bob", "carol"} {
				if code, out := h.strictAdmin(t, "POST", "/users", `{"name":"`+name+`"}`); code != 201 {
					t.Fatalf("create: %d %v", code, out)
				}
			}
			code, out := h.strictAdmin(t, "GET", "/users?limit=1", "")
			next, _ := out["next"].(string)
			if code != http.StatusOK || next == "" {
				t.Fatalf("first page: %d %v", code, out)
			}
			if code, out := h.strictAdmin(t, "GET", "/users?limit=1&cursor="+next, ""); code != http.StatusOK {
				t.Errorf("the cursor a page gave: %d %v", code, out)
			}
			for _, cursor := range []string{"zzz", base64.RawURLEncoding.EncodeToString([]byte("al\xffice")), base64.RawURLEncoding.EncodeToString([]byte("al\x00ice")), "_-_-"} {
				code, out := h.strictAdmin(t, "GET", "/users?cursor="+cursor, "")
				if got, field := errorCode(out); code != http.StatusBadRequest || got != "invalid_parameter" || field != "cursor" {
					t.Errorf("cursor %q: %d %v, want 400 invalid_parameter cursor", cursor, code, out)
				}
			}
		})
	}
}
