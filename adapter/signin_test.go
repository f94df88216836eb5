package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSignInPostKeepsTheSignedInSession: the sign-in form's POST, sent with a
// signed-in session's cookie and CSRF token (another tab's form made by hand, a crafted
// one), wrote the new name over the session's user: the session then named bob while it
// held alice's row, was ended at its next request as "user disabled or deleted during
// the session" (a false record), a challenge went to bob's factor from alice's session,
// and the same name typed in another case ("ALICE") replaced the signed-in state (a
// set-up under way) and the name the page shows. It is refused now, changing nothing:
// signing in as someone else takes a sign-out first.
func TestSignInPostKeepsTheSignedInSession(t *testing.T) {
	h, code, p := aliceOnPage(t)
	if c, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"bob"}`); c != 201 {
		t.Fatalf("create bob: %d %v", c, out)
	}
	totpFactor(t, h, "bob")
	p.signIn("alice", code())
	cookie := p.cookie.Value
	for _, name := range []string{"bob", "ALICE"} {
		a := p.post("/self-service/signin", url.Values{"username": {name}, "method": {"app"}})
		if a.status != http.StatusConflict || !strings.Contains(a.body, "signed in as alice") {
			t.Errorf("sign-in form for %s from alice's session: %d %q, want 409 saying she is signed in\n%s",
				name, a.status, a.header.Get("Location"), a.body)
		}
		if p.cookie == nil || p.cookie.Value != cookie {
			t.Fatalf("sign-in form for %s: the session cookie was replaced or cleared", name)
		}
		home := p.get("/self-service/")
		if !strings.Contains(home.body, "Signed in as alice.") {
			t.Fatalf("after the sign-in form for %s: alice's session is gone or renamed:\n%s", name, home.body)
		}
	}
	if n := h.auditFailures(t, "selfservice.session", "user disabled or deleted during the session"); n != 0 {
		t.Errorf("%d records of a user disabled or deleted, for a session that was neither", n)
	}
	if rows := h.auditRows(t, "selfservice.signin.start"); len(rows) != 0 {
		t.Errorf("sign-ins started from a signed-in session: %v", rows)
	}
}

// TestSignInPostKeepsTheLinkSession: the same for a browser setting up with a
// link: the sign-in form's POST with the link session's token wrote over its set-up
// (and ended it at the next step); it is refused, and the set-up goes on.
func TestSignInPostKeepsTheLinkSession(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}}); code != http.StatusOK || secretShown.FindStringSubmatch(p.body) == nil {
		t.Fatalf("enroll: %d\n%s", code, p.body)
	}
	cookie := p.cookie
	if code := p.do(t, "POST", "/self-service/signin", url.Values{"username": {"alice"}, "method": {"app"}}); code != http.StatusConflict {
		t.Errorf("sign-in form from a link's session: %d, want 409\n%s", code, p.body)
	}
	if !strings.Contains(p.body, `href="/self-service/enroll"`) || p.cookie != cookie {
		t.Errorf("the refusal leads back to the set-up, and keeps its cookie:\n%s", p.body)
	}
	if code := p.do(t, "GET", "/self-service/confirm", nil); code != http.StatusOK || secretShown.FindStringSubmatch(p.body) == nil {
		t.Errorf("the set-up under way after the sign-in form: %d\n%s", code, p.body)
	}
}

// TestSignInStepsKeepTheSignedInSession: the sign-in's later steps, posted with a
// signed-in session's token (forms made by hand: the page shows them only to a sign-in
// under way): "continue" of a push sign-in answered "your session has ended" and cleared
// the browser's cookie, while the session lived on in the store for any copy of it; a
// code counted a failed sign-in against the address. Both are refused as the sign-in
// form is now, the session kept.
func TestSignInStepsKeepTheSignedInSession(t *testing.T) {
	_, code, p := aliceOnPage(t)
	p.signIn("alice", code())
	cookie := p.cookie.Value
	for _, step := range []struct {
		path string
		form url.Values
	}{
		{"/self-service/signin/continue", url.Values{}},
		{"/self-service/signin/code", url.Values{"code": {"123456"}}},
	} {
		a := p.post(step.path, step.form)
		if a.status != http.StatusConflict || !strings.Contains(a.body, "signed in as alice") {
			t.Errorf("%s from alice's session: %d, want 409 saying she is signed in\n%s", step.path, a.status, a.body)
		}
		if p.cookie == nil || p.cookie.Value != cookie {
			t.Fatalf("%s: the session cookie was replaced or cleared", step.path)
		}
		if home := p.get("/self-service/"); !strings.Contains(home.body, "Signed in as alice.") {
			t.Fatalf("after %s: alice is not signed in:\n%s", step.path, home.body)
		}
	}
}
