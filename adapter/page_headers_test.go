package adapter

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestHeadersEveryRoute audits the page's security headers on every route and
// every kind of answer (a page, a redirect, a refusal, a wrong address or method, a
// status poll, a HEAD): each forbids framing, sniffing and referrers, and none that can
// show a key, a QR code or a link's token may be cached.
func TestHeadersEveryRoute(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	link := p.linkPath
	p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
	if !strings.Contains(p.body, `id="secret"`) {
		t.Fatalf("no key shown:\n%s", p.body)
	}
	user := signInPage(t, h)
	type req struct {
		who          *pageBrowser
		method, path string
		form         url.Values
	}
	anon := &pageBrowser{h: h}
	reqs := []req{
		{anon, "GET", "/self-service", nil},
		{anon, "HEAD", "/self-service", nil},
		{anon, "GET", "/self-service/", nil},
		{anon, "HEAD", "/self-service/", nil},
		{anon, "GET", "/self-service/nowhere", nil},
		{anon, "DELETE", "/self-service/enroll", nil},
		{anon, "OPTIONS", "/self-service/", nil},
		{anon, "POST", "/self-service/push/status", nil},
		{anon, "GET", "/self-service/push/status", nil},
		{anon, "GET", "/self-service/signin/status", nil},
		{anon, "GET", "/self-service/link/" + strings.Repeat("A", 43), nil},
		{anon, "POST", "/self-service/signin", url.Values{"username": {"alice"}, "method": {"app"}, "csrf": {"x"}}},
		{anon, "GET", "/self-service/ready", nil},
		{anon, "GET", "/self-service/switch", nil},
		{p, "GET", link, nil},
		{p, "GET", "/self-service/enroll", nil},
		{p, "GET", "/self-service/confirm", nil},
		{p, "HEAD", "/self-service/confirm", nil},
		{p, "GET", "/self-service/confirm?wrong=1", nil},
		{p, "POST", "/self-service/confirm", url.Values{"code": {"000000"}}},
		{p, "GET", "/self-service/push/status", nil},
		{p, "GET", "/self-service/resend", nil},
		{user, "GET", "/self-service/", nil},
		{user, "GET", "/self-service/enroll", nil},
		{user, "POST", "/self-service/factors/nope/rename", url.Values{"label": {"x"}}},
		{user, "POST", "/self-service/factors/nope/remove", url.Values{}},
		{user, "GET", "/self-service/signin/status", nil},
		{user, "POST", "/self-service/signout", url.Values{}},
	}
	for _, r := range reqs {
		var body *strings.Reader
		if r.form != nil {
			if r.form.Get("csrf") == "" {
				r.form.Set("csrf", r.who.csrf)
			}
			if r.who.shown != "" {
				r.form.Set("shown", r.who.shown)
			}
			body = strings.NewReader(r.form.Encode())
		} else {
			body = strings.NewReader("")
		}
		q := httptest.NewRequest(r.method, r.path, body)
		if r.form != nil {
			q.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if r.who.cookie != "" {
			q.AddCookie(&http.Cookie{Name: selfServiceCookie, Value: r.who.cookie})
		}
		if r.who.shownCk != "" {
			q.AddCookie(&http.Cookie{Name: shownCookie, Value: r.who.shownCk})
		}
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, q)
		hd := rec.Header()
		var bad []string
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			bad = append(bad, "CSP "+csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
			"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
			if hd.Get(k) != want {
				bad = append(bad, k+": "+hd.Get(k))
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s %s → %d: %s", r.method, r.path, rec.Code, strings.Join(bad, "; "))
		}
	}
}
