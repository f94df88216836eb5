package adapter

import (
	"net/http"
	"strings"
	"testing"
)

// TestWriteAnswersTheETagOfTheNextRead: a user's write that changes the state
// with the profile as it is (a PUT deactivating, the whole user sent again), the state
// alone, the profile with the state as it is, or both, answers the version (ETag and
// meta.version; the admin API's ETag) a GET right after answers: the tag a client's next
// If-Match sends. A write that changes nothing answers the version as it was.
func TestWriteAnswersTheETagOfTheNextRead(t *testing.T) {
	t.Run("scim", func(t *testing.T) {
		h := newSyncHarness(t)
		whole := `{"userName":"et@example.com","displayName":"Et","emails":[{"value":"et@example.com","primary":true}],"active":%s}`
		body := func(active string) string { return strings.Replace(whole, "%s", active, 1) }
		_, path := h.created("/Users", body("true"))
		for _, w := range []struct{ method, body string }{
			{"PUT", body("false")},
			{"PUT", body("false")}, // nothing changes
			{"PATCH", `{"Operations":[{"op":"replace","path":"active","value":true}]}`},
			{"PATCH", `{"Operations":[{"op":"replace","value":{"active":true,"displayName":"Et B"}}]}`},
			{"PUT", strings.Replace(body("false"), `"Et"`, `"Et C"`, 1)},
		} {
			code, out, hdr := h.scim(w.method, path, w.body)
			if code != http.StatusOK {
				t.Fatalf("%s %s: %d %v", w.method, w.body, code, out)
			}
			meta, _ := out["meta"].(map[string]any)
			_, _, after := h.scim("GET", path, "")
			if got, want := hdr.Get("ETag"), after.Get("ETag"); got == "" || got != want || meta["version"] != want {
				t.Errorf("%s %s: answered ETag %q (meta.version %v), a GET after %q", w.method, w.body, got, meta["version"], want)
			}
		}
	})
	t.Run("admin", func(t *testing.T) {
		h := newAdminHarness(t)
		if code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"et","email":"et@example.com","displayName":"Et","groups":["g"]}`); code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, out)
		}
		for _, w := range []struct{ method, path, body string }{
			{"PATCH", "", `{"email":"et@EXAMPLE.com","displayName":"Et","groups":["g"],"state":"disabled"}`},
			{"PATCH", "", `{"state":"disabled"}`}, // nothing changes
			{"PATCH", "", `{"state":"active"}`},
			{"PATCH", "", `{"displayName":"Et B","state":"active"}`},
			{"PATCH", "", `{"displayName":"Et C","state":"disabled"}`},
			{"POST", "/enable", ""},
			{"POST", "/disable", ""},
		} {
			code, text, hdr := h.do(t, w.method, AdminPrefix+"/users/et"+w.path, w.body, "Authorization", "Bearer "+h.write, "Content-Type", "application/json")
			if code != http.StatusOK {
				t.Fatalf("%s %s %s: %d %s", w.method, w.path, w.body, code, text)
			}
			_, _, after := h.do(t, "GET", AdminPrefix+"/users/et", "", "Authorization", "Bearer "+h.write)
			if got, want := hdr.Get("ETag"), after.Get("ETag"); got == "" || got != want {
				t.Errorf("%s %s %s: answered ETag %q, a GET after %q", w.method, w.path, w.body, got, want)
			}
		}
	})
}
