package adapter

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
)

// pageBrowser is a browser on the self-service page: it keeps the session cookie and
// posts forms with the page's CSRF token.
type pageBrowser struct {
	h        *adminHarness
	cookie   string
	csrf     string
	shown    string // the hidden field of the last page's form, which a browser sends back
	linkPath string // the activation link's path
	body     string // the last page
	header   http.Header
	send     http.Header // headers the next requests send (Sec-Fetch-Site...)
	shownCk  string      // the enrollment's shown cookie
	switchCk string      // the link a question waits on (switchCookie)
	followed string      // the redirect the last request followed, "" for none
}

var (
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	shownField = regexp.MustCompile(`name="shown" value="([^"]+)"`)
)

// do sends method path (a form when form is not nil) with the session cookie, and keeps
// the cookie and the CSRF token of what comes back.
func (p *pageBrowser) do(t *testing.T, method, path string, form url.Values) int {
	t.Helper()
	var req *http.Request
	if form != nil {
		if form.Get("csrf") == "" {
			form.Set("csrf", p.csrf)
		}
		if p.shown != "" && form.Get("shown") == "" {
			form.Set("shown", p.shown)
		}
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	if p.cookie != "" {
		req.AddCookie(&http.Cookie{Name: selfServiceCookie, Value: p.cookie})
	}
	if p.shownCk != "" {
		req.AddCookie(&http.Cookie{Name: shownCookie, Value: p.shownCk})
	}
	if p.switchCk != "" {
		req.AddCookie(&http.Cookie{Name: switchCookie, Value: p.switchCk})
	}
	for k, vs := range p.send {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	p.h.srv.Handler().ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == selfServiceCookie {
			p.cookie = c.Value
			if c.MaxAge < 0 {
				p.cookie = ""
			}
		}
		if c.Name == shownCookie {
			p.shownCk = c.Value
		}
		if c.Name == switchCookie {
			p.switchCk = c.Value
			if c.MaxAge < 0 {
				p.switchCk = ""
			}
		}
	}
	// A browser follows the enrollment's redirects to the page of its pending factor or
	// its result, and a sign-in's to its step's (post/redirect/get), as the tests' forms
	// expect.
	if loc := rec.Header().Get("Location"); method == "POST" && rec.Code == http.StatusSeeOther &&
		(strings.HasPrefix(loc, "/self-service/confirm") || strings.HasPrefix(loc, "/self-service/ready") ||
			strings.HasPrefix(loc, "/self-service/signin/")) {
		code := p.do(t, "GET", loc, nil)
		p.followed = loc
		return code
	}
	p.followed = ""
	p.body, p.header = html.UnescapeString(rec.Body.String()), rec.Header()
	if m := csrfField.FindStringSubmatch(rec.Body.String()); m != nil {
		p.csrf = m[1]
	}
	p.shown = ""
	if m := shownField.FindStringSubmatch(rec.Body.String()); m != nil {
		p.shown = html.UnescapeString(m[1])
	}
	return rec.Code
}

// openLink creates alice and opens her activation link.
func openLink(t *testing.T, h *adminHarness) *pageBrowser {
	t.Helper()
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`)
	if code != 201 {
		t.Fatalf("link: %d %v", code, out)
	}
	u, _ := url.Parse(out["url"].(string))
	p := &pageBrowser{h: h, linkPath: u.Path}
	if code := p.do(t, "GET", u.Path, nil); code != 200 {
		t.Fatalf("open link: %d %s", code, p.body)
	}
	if code := p.do(t, "GET", "/self-service/enroll", nil); code != 200 {
		t.Fatalf("choose: %d %s", code, p.body)
	}
	return p
}

var secretShown = regexp.MustCompile(`<code id="secret">([A-Z2-7]+)</code>`)

// wrongCode is a six-digit code the key accepts at no step near now.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	near := map[string]bool{}
	for d := -2; d <= 2; d++ {
		c, _ := totp.GenerateCode(secret, time.Now().Add(time.Duration(d)*30*time.Second))
		near[c] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// TestWrongFirstCodeShowsTheFormAgain: a wrong first code of a link's enrollment shows
// the same key and QR code again with the error and the code field, in the same session,
// so the user types the right one; no dead end, no second seed. It is the answer of a
// redirect (post/redirect/get), so that a reload does not type the wrong code again.
func TestWrongFirstCodeShowsTheFormAgain(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}}); code != 200 {
		t.Fatalf("enroll: %d %s", code, p.body)
	}
	m := secretShown.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no key on the confirm page: %s", p.body)
	}
	secret := m[1]
	code := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {wrongCode(t, secret)}})
	if code != http.StatusOK || p.followed != "/self-service/confirm?wrong=1" || !strings.Contains(p.body, `id="code"`) || !strings.Contains(p.body, `role="alert"`) ||
		!strings.Contains(p.body, `<code id="secret">`+secret+`</code>`) || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		t.Fatalf("after a wrong code: %d, want the same key, its QR code and the code field with the error:\n%s", code, p.body)
	}
	right, _ := totp.GenerateCode(secret, time.Now())
	if code := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {right}}); code != 200 || !strings.Contains(p.body, "You are all set") {
		t.Fatalf("the right code next: %d %s", code, p.body)
	}
	_, out := h.admin(t, h.read, "GET", "/admin/v1/users/alice/factors", "")
	if fs, _ := out["factors"].([]any); len(fs) != 1 {
		t.Errorf("factors after one enrollment: %v, want the one", out)
	}
}

// newPushPageHarness is the self-service page offering an app and push devices.
func newPushPageHarness(t *testing.T) *adminHarness {
	t.Helper()
	return newPushPageHarnessAt(t, nil)
}

// newPushPageHarnessAt is newPushPageHarness on clk's time (the real one when clk is nil).
func newPushPageHarnessAt(t *testing.T, clk *fakeClock) *adminHarness {
	t.Helper()
	var now func() time.Time
	if clk != nil {
		now = clk.Now
	}
	st := testdb.SQLite(t)
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: now, Capabilities: []string{"totp", "push"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}, Now: now,
		Capabilities: map[string][]string{"acme": {"totp", "push"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := &adminHarness{store: st, manager: m}
	if h.write, err = m.CreateToken(context.Background(), "cli", "provisioning", lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	h.read = h.write
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp", "push"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = m; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h
}

// TestPushPageShowsTheCodeAgain: without the script, "continue" before the phone
// registered shows the QR code and activation code again; once another browser spent the
// link, it says the enrollment can no longer complete instead of waiting for ever.
func TestPushPageShowsTheCodeAgain(t *testing.T) {
	h := newPushPageHarness(t)
	p := openLink(t, h)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"push"}}); code != 200 {
		t.Fatalf("enroll: %d %s", code, p.body)
	}
	m := regexp.MustCompile(`<code id="activation">([^<]+)</code>`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no activation code: %s", p.body)
	}
	if code := p.do(t, "POST", "/self-service/push/continue", url.Values{}); code != 200 ||
		!strings.Contains(p.body, `<code id="activation">`+m[1]+`</code>`) || !strings.Contains(p.body, `id="pushqr"`) || !strings.Contains(p.body, `role="alert"`) {
		t.Fatalf("continue before the phone registered: %d, want the codes again:\n%s", code, p.body)
	}

	// Another browser enrolls an app with the same link.
	other := &pageBrowser{h: h}
	other.do(t, "GET", p.linkPath, nil)
	other.do(t, "GET", "/self-service/enroll", nil)
	other.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
	right, _ := totp.GenerateCode(secretShown.FindStringSubmatch(other.body)[1], time.Now())
	if code := other.do(t, "POST", "/self-service/confirm", url.Values{"code": {right}}); code != 200 {
		t.Fatalf("the other browser: %d %s", code, other.body)
	}
	if code := p.do(t, "POST", "/self-service/push/continue", url.Values{}); code != http.StatusConflict || !strings.Contains(p.body, "can no longer complete") {
		t.Fatalf("continue once the link was spent: %d\n%s", code, p.body)
	}
}

// signInPage gives alice (created by openLink) an active app through the admin API and
// signs her in on the page with it.
func signInPage(t *testing.T, h *adminHarness) *pageBrowser {
	t.Helper()
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors", `{"type":"totp","activation":"immediate"}`)
	if code != 201 {
		t.Fatalf("enroll: %d %v", code, out)
	}
	secret, _ := out["enrollment"].(map[string]any)["secret"].(string)
	p := &pageBrowser{h: h}
	p.do(t, "GET", "/self-service/", nil)
	p.do(t, "POST", "/self-service/signin", url.Values{"username": {"alice"}, "method": {"app"}})
	now, _ := totp.GenerateCode(secret, time.Now())
	if code := p.do(t, "POST", "/self-service/signin/code", url.Values{"code": {now}}); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", code, p.body)
	}
	p.do(t, "GET", "/self-service/", nil)
	return p
}

var factorRow = regexp.MustCompile(`<tr id="f-([a-z0-9]+)">`)

// TestErrorPagesSpeakToThePerson: an error page says what went wrong in the page's
// words, the field named and capitalised, with no API code, and leads back to where the
// person was: the factors page when signed in, the step when enrolling with a link.
func TestErrorPagesSpeakToThePerson(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	link := openLink(t, h)
	user := signInPage(t, h)
	id := factorRow.FindStringSubmatch(user.body)
	if id == nil {
		t.Fatalf("no factor on the factors page: %s", user.body)
	}
	for _, tc := range []struct {
		name       string
		p          *pageBrowser
		path       string
		form       url.Values
		want, back string
	}{
		{"blank rename", user, "/self-service/factors/" + id[1] + "/rename", url.Values{"label": {" "}}, "Name is required.", `href="/self-service/">Back to my sign-in methods`},
		{"control characters", user, "/self-service/factors/" + id[1] + "/rename", url.Values{"label": {"a\x01b"}}, "Name must be text without control characters.", `href="/self-service/">Back to my sign-in methods`},
		{"stale form of a link", link, "/self-service/enroll", url.Values{"type": {"totp"}, "csrf": {"stale"}}, "This form is stale", `href="/self-service/enroll">`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.do(t, "POST", tc.path, tc.form)
			if !strings.Contains(tc.p.body, tc.want) || !strings.Contains(tc.p.body, tc.back) || strings.Contains(tc.p.body, "Go to sign-in") {
				t.Errorf("want %q and %q:\n%s", tc.want, tc.back, tc.p.body)
			}
		})
	}

	anon := &pageBrowser{h: h}
	anon.do(t, "GET", "/self-service/", nil)
	anon.do(t, "POST", "/self-service/signin", url.Values{"username": {"alice"}, "method": {"app"}})
	anon.do(t, "POST", "/self-service/signin/code", url.Values{"code": {"12"}})
	if !strings.Contains(anon.body, "That code is not right. Try again.") || !strings.Contains(anon.body, `action="/self-service/signin/code"`) {
		t.Errorf("a wrong sign-in code: want the code form again, and why:\n%s", anon.body)
	}

	// A cross-site POST carries no cookie: its refusal does not clear the person's own.
	cross := &pageBrowser{h: h}
	if code := cross.do(t, "POST", "/self-service/signout", url.Values{"csrf": {"x"}}); code != http.StatusUnauthorized || cross.header.Get("Set-Cookie") != "" {
		t.Errorf("a POST with no cookie: %d, Set-Cookie %q", code, cross.header.Get("Set-Cookie"))
	}
}

// TestPageAddressesAnswerPages: what a browser may open under /self-service gets a page
// or a redirect, never the Verify contract's JSON error: the address without its slash,
// a POST-only step reopened from the history, an unknown page, a form too large.
func TestPageAddressesAnswerPages(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	for _, tc := range []struct {
		method, path string
		body         string
		status       int
		location     string
		allow        string // a wrong method's Allow header
	}{
		{"GET", "/self-service", "", http.StatusSeeOther, "/self-service/", ""},
		{"GET", "/self-service/signin", "", http.StatusSeeOther, "/self-service/", ""},
		{"GET", "/self-service/signin/code", "", http.StatusSeeOther, "/self-service/", ""},
		{"GET", "/self-service/confirm", "", http.StatusSeeOther, "/self-service/", ""},
		{"GET", "/self-service/resend", "", http.StatusSeeOther, "/self-service/", ""},
		{"GET", "/self-service/push/continue", "", http.StatusSeeOther, "/self-service/", ""},
		{"GET", "/self-service/nowhere", "", http.StatusNotFound, "", ""},
		// A wrong method is 405 with the methods the address takes, as a page.
		{"DELETE", "/self-service/enroll", "", http.StatusMethodNotAllowed, "", "GET, HEAD, POST"},
		{"PUT", "/self-service/", "", http.StatusMethodNotAllowed, "", "GET, HEAD"},
		{"POST", "/self-service/", "", http.StatusMethodNotAllowed, "", "GET, HEAD"},
		{"POST", "/self-service/style.css", "", http.StatusMethodNotAllowed, "", "GET, HEAD"},
		{"PATCH", "/self-service/factors/f1/rename", "", http.StatusMethodNotAllowed, "", "GET, HEAD, POST"},
		{"POST", "/self-service/signin", "username=" + strings.Repeat("a", 200<<10), http.StatusRequestEntityTooLarge, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
				t.Errorf("%d Location %q, want %d %q", rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
			}
			if rec.Header().Get("Allow") != tc.allow {
				t.Errorf("Allow %q, want %q", rec.Header().Get("Allow"), tc.allow)
			}
			if tc.allow != "" && !strings.Contains(rec.Body.String(), "cannot be opened that way") {
				t.Errorf("a wrong method's page: %s", rec.Body.String())
			}
			if tc.location == "" && (!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), "<h1>") ||
				rec.Header().Get("Content-Security-Policy") == "") {
				t.Errorf("not the page's own message: %q %s", rec.Header().Get("Content-Type"), rec.Body.String())
			}
		})
	}
}

// TestPageSmallThings: a code typed with a space or a dash as the app groups it works;
// a link another browser spent is refused at the choice, not after it; each factor's
// rename box and button say which factor they rename.
func TestPageSmallThings(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	other := &pageBrowser{h: h}
	other.do(t, "GET", p.linkPath, nil)
	other.do(t, "GET", "/self-service/enroll", nil)

	p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
	code, _ := totp.GenerateCode(secretShown.FindStringSubmatch(p.body)[1], time.Now())
	if status := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {code[:3] + " " + code[3:]}}); status != 200 || !strings.Contains(p.body, "You are all set") {
		t.Fatalf("a code typed %q: %d %s", code[:3]+" "+code[3:], status, p.body)
	}
	if status := other.do(t, "GET", "/self-service/enroll", nil); status != http.StatusConflict || !strings.Contains(other.body, "used already") {
		t.Errorf("the choice with a link spent meanwhile: %d\n%s", status, other.body)
	}

	anon := &pageBrowser{h: h}
	anon.do(t, "GET", "/self-service/", nil)
	if !strings.Contains(anon.body, `id="m-app"`) || strings.Contains(anon.body, `id="m-smsotp"`) || strings.Contains(anon.body, `id="m-push"`) {
		t.Errorf("the sign-in form of a service that serves only apps offers:\n%s", anon.body)
	}

	user := signInPage(t, h)
	if !strings.Contains(user.body, `aria-label="New name for Authenticator app"`) || !strings.Contains(user.body, `aria-label="Rename Authenticator app"`) {
		t.Errorf("rename controls not named by their factor:\n%s", user.body)
	}
}

// linkOf creates user name and returns the path of its activation link.
func linkOf(t *testing.T, h *adminHarness, name string) string {
	t.Helper()
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"`+name+`"}`); code != 201 {
		t.Fatalf("create %s: %d %v", name, code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/"+name+"/activation-link", `{"deliver":false}`)
	if code != 201 {
		t.Fatalf("link of %s: %d %v", name, code, out)
	}
	u, _ := url.Parse(out["url"].(string))
	return u.Path
}

// TestLinkNeverReplacesAnotherUsersSession: login CSRF. Another user's activation link
// (mallory's own, sent to alice from another site) opened in a browser signed in as alice
// used to replace her session with one for mallory, where alice might then enroll her
// phone into mallory's account. Now it asks first: the page says who is signed in and
// whom the link is for, cancelling keeps the session, and only the page's own form
// (CSRF token, not cross-site) switches; the session it replaces ends. The same user's
// link opens as ever; a dead link shows its error without signing anyone out.
func TestLinkNeverReplacesAnotherUsersSession(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	own := openLink(t, h).linkPath // alice's
	alice := signInPage(t, h)
	signedIn := alice.cookie
	mallory := linkOf(t, h, "mallory")

	// The question is asked at an address without the token (the link's page moves on to
	// it by a refresh, the token in a cookie of its own), so that the token leaves the
	// address bar and the history.
	if code := alice.do(t, "GET", mallory, nil); code != http.StatusOK || alice.cookie != signedIn ||
		strings.Contains(alice.header.Get("Set-Cookie"), selfServiceCookie+"=") || alice.switchCk == "" ||
		!strings.Contains(alice.body, `url=/self-service/switch`) {
		t.Fatalf("another user's link while signed in: %d, Set-Cookie %q, want a refresh to the question and the session kept:\n%s",
			code, alice.header.Get("Set-Cookie"), alice.body)
	}
	if code := alice.do(t, "GET", "/self-service/switch", nil); code != http.StatusOK || alice.cookie != signedIn ||
		!strings.Contains(alice.body, "signed in as alice") || !strings.Contains(alice.body, "for mallory") ||
		!strings.Contains(alice.body, `action="/self-service/switch"`) || !strings.Contains(alice.body, `id="cancel" href="/self-service/"`) {
		t.Fatalf("the question: %d, want it and the session kept:\n%s", code, alice.body)
	}
	csrf := alice.csrf
	if alice.do(t, "GET", "/self-service/", nil); !strings.Contains(alice.body, "Signed in as alice.") {
		t.Fatalf("after the question, cancelled: %s", alice.body)
	}
	// Declined, the link waits no longer in the browser for the next person at it.
	if alice.switchCk != "" {
		t.Errorf("the switch cookie outlives the question declined")
	}
	if code := alice.do(t, "GET", "/self-service/switch", nil); code == http.StatusOK && strings.Contains(alice.body, "for mallory") {
		t.Errorf("the question again after it was declined:\n%s", alice.body)
	}
	alice.do(t, "GET", mallory, nil)
	alice.do(t, "GET", "/self-service/switch", nil)

	// A cross-site POST (which a browser sends with the cookie only if it is not Lax; the
	// token then came from elsewhere) is refused, and the session stays.
	alice.send = http.Header{"Sec-Fetch-Site": {"cross-site"}}
	if code := alice.do(t, "POST", "/self-service/switch", url.Values{"csrf": {csrf}}); code != http.StatusForbidden || alice.cookie != signedIn {
		t.Errorf("a cross-site switch: %d, want 403 and the session kept\n%s", code, alice.body)
	}
	alice.send = nil
	if code := alice.do(t, "POST", "/self-service/switch", url.Values{"csrf": {"stale"}}); code != http.StatusForbidden || alice.cookie != signedIn {
		t.Errorf("a switch without the page's token: %d, want 403 and the session kept\n%s", code, alice.body)
	}

	// A link that opens nothing does not sign alice out either.
	if code := alice.do(t, "GET", "/self-service/link/"+strings.Repeat("A", 43), nil); code != http.StatusNotFound ||
		alice.cookie != signedIn || !strings.Contains(alice.body, `href="/self-service/">Back to my sign-in methods`) {
		t.Errorf("a dead link while signed in: %d, cookie kept %v\n%s", code, alice.cookie == signedIn, alice.body)
	}

	// Confirmed on the page: mallory's link session, and alice's ends.
	alice.do(t, "GET", mallory, nil)
	alice.do(t, "GET", "/self-service/switch", nil)
	alice.send = http.Header{"Sec-Fetch-Site": {"same-origin"}}
	if code := alice.do(t, "POST", "/self-service/switch", url.Values{}); code != http.StatusSeeOther || alice.header.Get("Location") != "/self-service/enroll" ||
		alice.cookie == signedIn || alice.cookie == "" || alice.switchCk != "" {
		t.Fatalf("the switch: %d Location %q\n%s", code, alice.header.Get("Location"), alice.body)
	}
	if alice.do(t, "GET", "/self-service/enroll", nil); !strings.Contains(alice.body, "Hello mallory.") {
		t.Fatalf("after the switch: %s", alice.body)
	}
	old := &pageBrowser{h: h, cookie: signedIn}
	if old.do(t, "GET", "/self-service/", nil); strings.Contains(old.body, "Signed in as alice") {
		t.Errorf("the session the switch replaced goes on")
	}

	// mallory's link session, in turn, is asked before alice's link replaces it.
	alice.do(t, "GET", own, nil)
	if alice.do(t, "GET", "/self-service/switch", nil); !strings.Contains(alice.body, "for alice") || !strings.Contains(alice.body, `id="cancel" href="/self-service/enroll"`) {
		t.Errorf("alice's link in mallory's link session: %s", alice.body)
	}

	// The same user's link opens at once.
	again := signInPage(t, h)
	if code := again.do(t, "GET", own, nil); code != http.StatusOK || !strings.Contains(again.body, "Opening your link") {
		t.Fatalf("alice's own link while signed in as alice: %d\n%s", code, again.body)
	}
	if again.do(t, "GET", "/self-service/enroll", nil); !strings.Contains(again.body, "Hello alice.") {
		t.Errorf("after alice's own link: %s", again.body)
	}
}

// TestChoosePageAsksDestinationOnlyWhenNeeded: a page offering an authenticator app (and
// push) asks for no phone number or e-mail address; one that sends codes asks for the kind
// of destination its capabilities send to.
func TestChoosePageAsksDestinationOnlyWhenNeeded(t *testing.T) {
	for _, mk := range []func(*testing.T) *adminHarness{
		func(t *testing.T) *adminHarness { h, _ := newSelfServiceHarness(t); return h },
		newPushPageHarness,
	} {
		p := openLink(t, mk(t))
		if strings.Contains(p.body, `name="destination"`) {
			t.Errorf("a page without code-sending capabilities asks for a destination:\n%s", p.body)
		}
	}
	for _, tc := range []struct {
		caps                []string
		label, autocomplete string
	}{
		{[]string{"totp"}, "", ""},
		{[]string{"totp", "smsotp"}, "Phone number (+15551230123), for a code sent to you", "tel"},
		{[]string{"voicecall"}, "Phone number (+15551230123), for a code sent to you", "tel"},
		{[]string{"emailotp", "push"}, "E-mail address, for a code sent to you", "email"},
		{[]string{"smsotp", "emailotp"}, "Phone number (+15551230123) or e-mail address, for a code sent to you", "tel"},
	} {
		if got := destinationFor(tc.caps); got.Label != tc.label || got.Autocomplete != tc.autocomplete {
			t.Errorf("destinationFor(%v) = %+v, want %q, %q", tc.caps, got, tc.label, tc.autocomplete)
		}
	}
}

// TestEnrollmentSurvivesAReload: the confirm page is the answer of a redirect, so a
// reload (a phone back from its authenticator app), Back or Forward shows the same key
// rather than post the form again; a second identical start shows the pending one; the
// link's "all set" is a page of its own, which a reload shows again.
func TestEnrollmentSurvivesAReload(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}}); code != 200 || p.followed != "/self-service/confirm" {
		t.Fatalf("enroll: %d, followed %q: %s", code, p.followed, p.body)
	}
	m := secretShown.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no key on the confirm page: %s", p.body)
	}
	secret := m[1]
	for _, step := range []struct {
		method string
		form   url.Values
	}{{"GET", nil}, {"GET", nil}, {"POST", url.Values{"type": {"totp"}}}} {
		p.do(t, step.method, "/self-service/confirm", nil)
		if step.method == "POST" {
			p.do(t, "POST", "/self-service/enroll", step.form)
		}
		if got := secretShown.FindStringSubmatch(p.body); got == nil || got[1] != secret {
			t.Fatalf("%s: the key changed or went: %s", step.method, p.body)
		}
	}
	right, _ := totp.GenerateCode(secret, time.Now())
	if code := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {right}}); code != 200 || !strings.HasPrefix(p.followed, "/self-service/ready") ||
		!strings.Contains(p.body, "You are all set") || !strings.Contains(p.body, "Your Authenticator app is ready") {
		t.Fatalf("confirm: %d %q %s", code, p.followed, p.body)
	}
	if code := p.do(t, "GET", p.followed, nil); code != 200 || !strings.Contains(p.body, "You are all set") {
		t.Fatalf("reload of the result: %d %s", code, p.body)
	}
}

// TestOlderTabSaysTheSetUpEnded: two tabs of one browser, the second starting a set-up
// anew: the first tab's form says the set-up cannot be finished, with a way on, rather
// than check its code against the newer key under SMS wording.
func TestOlderTabSaysTheSetUpEnded(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
	old := regexp.MustCompile(`name="factor" value="([^"]+)"`).FindStringSubmatch(p.body)
	if old == nil {
		t.Fatalf("the confirm form names no factor: %s", p.body)
	}
	oldShown := p.shown
	// The other tab: its choice page, a new start (Back to the choice, Continue again
	// is the same start, and keeps the key; a new start after the cookie is gone is not).
	p.shownCk = ""
	p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
	code := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {"123456"}, "factor": {old[1]}, "shown": {oldShown}})
	if code != http.StatusConflict || !strings.Contains(p.body, "This set-up cannot be finished") || strings.Contains(p.body, "sent you") ||
		!strings.Contains(p.body, `href="/self-service/enroll"`) {
		t.Fatalf("older tab: %d %s", code, p.body)
	}
}
