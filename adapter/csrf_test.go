package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEveryPagePOSTWantsTheToken: every POST the page routes, those there now and
// any added later, is refused 403 without the session's CSRF token, or with another, for
// a signed-in session and a link's alike, and changes nothing: the session goes on, the
// user's sign-in methods stay as they were. The routes are read from the router, not
// listed here, so a new form that forgets the check fails this test.
func TestEveryPagePOSTWantsTheToken(t *testing.T) {
	h, code, user := aliceOnPage(t)
	user.signIn("alice", code())
	fs, _ := h.manager.ListFactors(t.Context(), "alice")
	if len(fs) == 0 {
		t.Fatal("alice has no factor")
	}
	_, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`)
	link, _ := out["url"].(string)
	token := link[strings.LastIndex(link, "/")+1:]
	linked := &pageClient{t: t, h: h, addr: "198.51.100.8"}
	linked.get("/self-service/link/" + token)
	linked.get("/self-service/enroll")

	n := 0
	for _, r := range h.srv.echo.Routes() {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Path, "/self-service/") {
			continue
		}
		n++
		path := strings.NewReplacer(":factor", fs[0].ID, ":token", token).Replace(r.Path)
		for _, p := range []*pageClient{user, linked} {
			for _, csrf := range []string{"", "not-the-token"} {
				form := url.Values{"csrf": {csrf}, "label": {"renamed"}, "type": {"totp"}, "code": {"123456"},
					"username": {"alice"}, "method": {"app"}, "factor": {fs[0].ID}}
				req, _ := http.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if a := p.send(req); a.status != http.StatusForbidden {
					t.Errorf("POST %s with CSRF token %q: %d %q, want 403", path, csrf, a.status, a.header.Get("Location"))
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("%d POST routes under /self-service/: the router was not read", n)
	}
	if a := user.get("/self-service/"); !strings.Contains(a.body, "Your sign-in methods") {
		t.Errorf("the signed-in session after the refused forms:\n%s", a.body)
	}
	after, _ := h.manager.ListFactors(t.Context(), "alice")
	if len(after) != len(fs) || after[0].Label != fs[0].Label || after[0].State != fs[0].State {
		t.Errorf("alice's sign-in methods after the refused forms: %+v, were %+v", after, fs)
	}
}
