package adapter

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// pendingFactorOf is the id and failure count of user's one factor.
func pendingFactorOf(t *testing.T, h *adminHarness, user string) (string, float64) {
	t.Helper()
	_, out := h.admin(t, h.read, "GET", "/admin/v1/users/"+user+"/factors", "")
	fs, _ := out["factors"].([]any)
	if len(fs) != 1 {
		t.Fatalf("factors of %s: %v, want one", user, out)
	}
	f := fs[0].(map[string]any)
	n, _ := f["failures"].(float64)
	return f["id"].(string), n
}

// checkRefusedForm checks that p shows the set-up's code form again with message, marked
// for assistive technology as the POST's answer was.
func checkRefusedForm(t *testing.T, p *pageBrowser, status int, what, message string) {
	t.Helper()
	if status != http.StatusOK || !strings.Contains(p.body, `id="code"`) || !strings.Contains(p.body, `role="alert"`) ||
		!strings.Contains(p.body, `aria-invalid="true" aria-describedby="error"`) || !strings.Contains(p.body, message) {
		t.Fatalf("%s: %d, want the code form again saying %q\n%s", what, status, message, p.body)
	}
}

// TestSetUpWrongCodeRedirects: a wrong first code answers a redirect to the set-up's
// page (post/redirect/get), which shows the same key and the error: a reload of it (or
// Back/Forward) types no code again, so it counts no other try toward the lockout.
func TestSetUpWrongCodeRedirects(t *testing.T) {
	h, _, _ := newCodePageHarnessAt(t, &fakeClock{t: time.Now()}, "")
	p := &pageBrowser{h: h}
	p.do(t, "GET", linkOf(t, h, "alice"), nil)
	p.do(t, "GET", "/self-service/enroll", nil)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}}); code != 200 {
		t.Fatalf("enroll: %d %s", code, p.body)
	}
	m := secretShown.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no key on the confirm page: %s", p.body)
	}
	status := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {wrongCode(t, m[1])}})
	if p.followed != "/self-service/confirm?wrong=1" {
		t.Fatalf("a wrong first code: %d, redirected to %q; want a redirect to /self-service/confirm?wrong=1\n%s", status, p.followed, p.body)
	}
	checkRefusedForm(t, p, status, "after a wrong code", "That code did not work.")
	if !strings.Contains(p.body, `<code id="secret">`+m[1]+`</code>`) {
		t.Fatalf("after a wrong code: not the same key\n%s", p.body)
	}
	_, failures := pendingFactorOf(t, h, "alice")
	for range 3 { // reloads
		checkRefusedForm(t, p, p.do(t, "GET", "/self-service/confirm?wrong=1", nil), "a reload", "That code did not work.")
	}
	if _, n := pendingFactorOf(t, h, "alice"); n != failures || failures != 1 {
		t.Errorf("failures: %v after the wrong code, %v after reloads; want 1 and no more", failures, n)
	}
}

// TestSetUpLockedRedirects: a first code refused for a factor locked answers a
// redirect to the set-up's page, which says how long the lock lasts from the factor and
// the clock on every reload (no number in the address), then asks for the code again.
func TestSetUpLockedRedirects(t *testing.T) {
	h, _, clk := newCodePageHarnessAt(t, &fakeClock{t: time.Now()}, "")
	p := &pageBrowser{h: h}
	p.do(t, "GET", linkOf(t, h, "alice"), nil)
	p.do(t, "GET", "/self-service/enroll", nil)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}}); code != 200 {
		t.Fatalf("enroll: %d %s", code, p.body)
	}
	m := secretShown.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no key on the confirm page: %s", p.body)
	}
	id, _ := pendingFactorOf(t, h, "alice")
	for range 10 {
		if _, err := h.store.RecordFailure(context.Background(), id, clk.Now(), 10, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	status := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {wrongCode(t, m[1])}})
	if p.followed != "/self-service/confirm?locked=1" {
		t.Fatalf("a code for a locked set-up: %d, redirected to %q; want /self-service/confirm?locked=1\n%s", status, p.followed, p.body)
	}
	checkRefusedForm(t, p, status, "locked", "this set-up is locked for 5 minutes.")
	_, failures := pendingFactorOf(t, h, "alice")
	clk.Advance(3 * time.Minute)
	checkRefusedForm(t, p, p.do(t, "GET", "/self-service/confirm?locked=1", nil), "a reload 3 minutes later", "this set-up is locked for 2 minutes.")
	if _, n := pendingFactorOf(t, h, "alice"); n != failures {
		t.Errorf("failures: %v, then %v after a reload", failures, n)
	}
	clk.Advance(3 * time.Minute)
	if status := p.do(t, "GET", "/self-service/confirm?locked=1", nil); status != 200 || strings.Contains(p.body, "locked") ||
		!strings.Contains(p.body, `<code id="secret">`+m[1]+`</code>`) {
		t.Fatalf("a reload once the lock is over: %d, want the form, no lock\n%s", status, p.body)
	}
}

// TestSetUpSpentRedirects: a texted first code whose tries are used up answers a
// redirect to the set-up's page, which says so and offers a new code on every reload.
func TestSetUpSpentRedirects(t *testing.T) {
	h, _, _ := newCodePageHarnessAt(t, &fakeClock{t: time.Now()}, "")
	p := &pageBrowser{h: h}
	p.do(t, "GET", linkOf(t, h, "alice"), nil)
	p.do(t, "GET", "/self-service/enroll", nil)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"smsotp"}, "destination": {"+15550100199"}}); code != 200 {
		t.Fatalf("enroll: %d %s", code, p.body)
	}
	var status int
	for range 10 {
		if status = p.do(t, "POST", "/self-service/confirm", url.Values{"code": {"000000"}}); strings.Contains(p.body, "can no longer be used") {
			break
		}
	}
	if p.followed != "/self-service/confirm?spent=1" {
		t.Fatalf("a texted code used up: %d, redirected to %q; want /self-service/confirm?spent=1\n%s", status, p.followed, p.body)
	}
	checkRefusedForm(t, p, status, "spent", "That code can no longer be used")
	if !strings.Contains(p.body, `id="resend"`) {
		t.Fatalf("spent: no new code offered\n%s", p.body)
	}
	checkRefusedForm(t, p, p.do(t, "GET", "/self-service/confirm?spent=1", nil), "a reload", "That code can no longer be used")
}
