package adapter

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
)

// adminFuzzRoutes are the admin API's writes that take a body, on a user and a factor that
// exist (FuzzAdminRequest picks one by index).
var adminFuzzRoutes = []struct{ method, path, contentType string }{
	{"POST", "/users", "application/json"},
	{"PATCH", "/users/alice", "application/json"},
	{"POST", "/users/alice/reset", "application/json"},
	{"POST", "/users/alice/factors", "application/json"},
	{"PATCH", "/users/alice/factors/{factor}", "application/json"},
	{"POST", "/users/alice/factors/{factor}/activate", "application/json"},
	{"POST", "/users/alice/factors/{factor}/resync", "application/json"},
	{"POST", "/switches/acme/totp/disable", "application/json"},
	{"POST", "/import", "text/csv"},
	{"POST", "/import", "application/x-ndjson"},
	{"POST", "/users/alice/activation-link", "application/json"},
}

// FuzzAdminRequest: whatever an identity team's client sends to a write of the admin API,
// the answer is a 2xx or a 4xx JSON error with a code, never a 5xx.
func FuzzAdminRequest(f *testing.F) {
	for i, body := range []string{
		`{"name":"bob","email":"bob@example.com","phone":"+15550100100","groups":["eng"]}`,
		`{"displayName":"Alice","attributes":{"dept":"x"}}`,
		`{"mode":"disable"}`,
		`{"type":"totp","label":"phone","activation":"passcode"}`,
		`{"label":"new"}`,
		`{"passcode":"123456"}`,
		`{"codes":["123456","654321"]}`,
		`{"reason":"incident"}`,
		"username,email,phone,displayName,groups,factors\ncarol,c@example.com,+15550000001,Carol,eng,totp\n",
		`{"username":"dave","factors":["totp"]}` + "\n",
		`{"deliver":false}`,
	} {
		f.Add(uint8(i), body)
	}
	f.Add(uint8(0), `{"name":"a\u0000b"}`)
	f.Add(uint8(8), "username\n\"unterminated\n")
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		h := newAdminHarnessOn(t, testdb.Memory(t))
		if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
			t.Fatalf("create alice: %d %v", code, out)
		}
		code, fac := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors", `{"type":"totp","activation":"passcode"}`)
		if code != 201 {
			t.Fatalf("enroll: %d %v", code, fac)
		}
		enrolled, _ := fac["factor"].(map[string]any)
		factor, _ := enrolled["id"].(string)
		if factor == "" {
			t.Fatalf("enroll: no factor id in %v", fac)
		}
		r := adminFuzzRoutes[int(route)%len(adminFuzzRoutes)]
		path := AdminPrefix + strings.ReplaceAll(r.path, "{factor}", factor)
		code, text, hdr := h.do(t, r.method, path, body, "Authorization", "Bearer "+h.write, "Content-Type", r.contentType)
		if code >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, path, body, code, text)
		}
		if code == http.StatusNoContent {
			return
		}
		if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") && !strings.HasPrefix(hdr.Get("Content-Type"), "application/x-ndjson") {
			t.Fatalf("%s %s %q: %d, content type %q", r.method, path, body, code, hdr.Get("Content-Type"))
		}
		if code >= 400 {
			var out map[string]any
			if err := json.Unmarshal([]byte(text), &out); err != nil {
				t.Fatalf("%s %s %q: %d, not JSON: %s", r.method, path, body, code, text)
			}
			if c, _ := errorCode(out); c == "" {
				t.Fatalf("%s %s %q: %d without an error code: %s", r.method, path, body, code, text)
			}
		}
	})
}
