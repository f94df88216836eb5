package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSameUsersLinkEndsTheSessionItReplaces: a link of the signed-in user opens
// at once and its session's cookie replaces the browser's; the session it replaced was
// left alive in the store (until its idle end, or for good while used), for whoever held
// a copy of its cookie (a shared computer's, a proxy log's), while the person, now on the
// link's page with no sign-out button for it, could no longer end it. Another user's link
// ends it (switchTo); the same user's link now does too.
func TestSameUsersLinkEndsTheSessionItReplaces(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	p := signInPage(t, h)
	if !strings.Contains(p.body, "Your sign-in methods") {
		t.Fatalf("not signed in:\n%s", p.body)
	}
	old := p.cookie
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`)
	if code != 201 {
		t.Fatalf("link: %d %v", code, out)
	}
	u, _ := url.Parse(out["url"].(string))
	if code := p.do(t, "GET", u.Path, nil); code != http.StatusOK || p.cookie == old || p.cookie == "" {
		t.Fatalf("alice's own link while signed in as alice: %d, cookie replaced %v\n%s", code, p.cookie != old, p.body)
	}
	if code := p.do(t, "GET", "/self-service/enroll", nil); code != http.StatusOK {
		t.Fatalf("the link's step: %d\n%s", code, p.body)
	}
	copyHolder := &pageBrowser{h: h, cookie: old}
	copyHolder.do(t, "GET", "/self-service/", nil)
	if strings.Contains(copyHolder.body, "Your sign-in methods") {
		t.Errorf("the signed-in session the link replaced still opens the factors page for a copy of its cookie")
	}
}

// TestHomeEndsTheLinkSessionItReplaces: the sign-in page, opened in a browser
// enrolling with a link, gives it a new (anonymous) cookie in place of the link
// session's; that session lived on in the store for a copy of its cookie, able to enroll
// with the link, with no way for the person to end it. It ends with its cookie now.
func TestHomeEndsTheLinkSessionItReplaces(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	old := p.cookie
	p.do(t, "GET", "/self-service/", nil)
	if p.cookie == old || !strings.Contains(p.body, `id="username"`) {
		t.Fatalf("the sign-in page in a browser enrolling with a link: cookie replaced %v\n%s", p.cookie != old, p.body)
	}
	copyHolder := &pageBrowser{h: h, cookie: old}
	if code := copyHolder.do(t, "GET", "/self-service/enroll", nil); code == http.StatusOK {
		t.Errorf("the link session whose cookie the sign-in page replaced still offers the choice to a copy of its cookie")
	}
}
