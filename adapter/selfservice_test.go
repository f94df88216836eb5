package adapter

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// newSelfServiceHarness is the admin harness with the self-service page on.
func newSelfServiceHarness(t *testing.T) (*adminHarness, *lifecycle.SelfService) {
	t.Helper()
	h := newAdminHarness(t)
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = h.manager; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h, ss
}

// TestLinkTokenNeverLogged: opening an activation link does not spend it, so its token in
// the access log would let anyone who reads the logs use it. The line names the route.
func TestLinkTokenNeverLogged(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`)
	if code != 201 {
		t.Fatalf("link: %d %v", code, out)
	}
	url := out["url"].(string)
	token := url[strings.LastIndex(url, "/")+1:]
	if code, _, _ = h.do(t, http.MethodGet, "/self-service/link/"+token, ""); code != http.StatusOK {
		t.Fatalf("open link: %d", code)
	}
	logs := h.logs.String()
	if strings.Contains(logs, token) || !strings.Contains(logs, `"path":"/self-service/link/:token"`) {
		t.Errorf("the access line of a link, token %s…:\n%s", token[:6], strings.ReplaceAll(logs, token, token[:6]+"…"))
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// pageClient is a browser on the page, as far as the server can tell: its cookie, the
// CSRF token of the last page, its address.
type pageClient struct {
	t      *testing.T
	h      *adminHarness
	addr   string
	cookie *http.Cookie // nil: none
	csrf   string
}

type pageAnswer struct {
	status  int
	body    string
	header  http.Header
	cookies []*http.Cookie
}

func (p *pageClient) send(req *http.Request) pageAnswer {
	p.t.Helper()
	req.RemoteAddr = p.addr + ":40000"
	if p.cookie != nil {
		req.AddCookie(&http.Cookie{Name: p.cookie.Name, Value: p.cookie.Value})
	}
	rec := httptest.NewRecorder()
	p.h.srv.Handler().ServeHTTP(rec, req)
	res := rec.Result()
	a := pageAnswer{status: rec.Code, body: rec.Body.String(), header: rec.Header(), cookies: res.Cookies()}
	for _, c := range a.cookies {
		if c.Name == selfServiceCookie {
			if c.MaxAge < 0 {
				p.cookie = nil
			} else {
				p.cookie = c
			}
		}
	}
	if m := csrfRE.FindStringSubmatch(a.body); m != nil {
		p.csrf = m[1]
	}
	return a
}

func (p *pageClient) get(path string) pageAnswer {
	p.t.Helper()
	return p.send(httptest.NewRequest(http.MethodGet, path, nil))
}

func (p *pageClient) post(path string, form url.Values) pageAnswer {
	p.t.Helper()
	form.Set("csrf", p.csrf)
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.send(req)
}

// TestPageSignInThrottledPerAddress: the page's failed sign-ins are throttled per client
// address, whatever user names they try (each name has its own budget in the store): past
// the burst an address is refused (429, Retry-After) before its code is looked at, and
// another address is not.
func TestPageSignInThrottledPerAddress(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	clk := &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	h.srv.signIns.now = clk.Now
	try := func(p *pageClient, user string) pageAnswer {
		t.Helper()
		p.get("/self-service/")
		if a := p.startSignIn(user, "app"); a.status != http.StatusOK {
			return a // refused from the start
		}
		return p.post("/self-service/signin/code", url.Values{"code": {"000000"}})
	}
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	for i := range throttleBurst {
		if a := try(p, fmt.Sprint("user", i)); !codeRefused(a) {
			t.Fatalf("wrong code %d: %d %q, want 303 to the form again", i+1, a.status, a.header.Get("Location"))
		}
	}
	a := try(p, "someone")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d (Retry-After %q), want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	other := &pageClient{t: t, h: h, addr: "203.0.113.9"}
	if a := try(other, "someone"); !codeRefused(a) {
		t.Fatalf("another address: %d, want the code refused", a.status)
	}
	clk.Advance(throttleEvery)
	if a := try(p, "someone"); !codeRefused(a) {
		t.Fatalf("after %s: %d, want one more attempt (the code refused)", throttleEvery, a.status)
	}
}

// totpFactor enrolls user a TOTP factor, active at once, and gives its id and a function
// for its code now.
func totpFactor(t *testing.T, h *adminHarness, user string) (string, func() string) {
	t.Helper()
	id, code, _ := totpFactorKey(t, h, user)
	return id, code
}

// totpFactorKey is totpFactor with the factor's secret too (for wrongCode).
func totpFactorKey(t *testing.T, h *adminHarness, user string) (string, func() string, string) {
	t.Helper()
	en, err := h.manager.EnrollFactor(context.Background(), "test", user, lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
	if err != nil {
		t.Fatal(err)
	}
	key, err := otp.NewKeyFromURL(en.Output["otpauthURI"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return en.Factor.ID, func() string {
		t.Helper()
		code, err := totp.GenerateCodeCustom(key.Secret(), time.Now(), totp.ValidateOpts{
			Period: uint(key.Period()), Digits: key.Digits(), Algorithm: key.Algorithm()})
		if err != nil {
			t.Fatal(err)
		}
		return code
	}, key.Secret()
}

// signInOnPage signs user in on the page with code, and opens the factors page.
func (p *pageClient) signIn(user, code string) {
	p.t.Helper()
	p.get("/self-service/")
	if a := p.startSignIn(user, "app"); a.status != http.StatusOK {
		p.t.Fatalf("start: %d", a.status)
	}
	if a := p.post("/self-service/signin/code", url.Values{"code": {code}}); a.status != http.StatusSeeOther {
		p.t.Fatalf("sign-in: %d\n%s", a.status, a.body)
	}
	if a := p.get("/self-service/"); !strings.Contains(a.body, "Your sign-in methods") {
		p.t.Fatalf("after the sign-in:\n%s", a.body)
	}
}

// startSignIn posts the sign-in form and, as a browser does, follows its redirect to the
// step's page (post/redirect/get); a refusal comes back as it came.
func (p *pageClient) startSignIn(user, method string) pageAnswer {
	p.t.Helper()
	a := p.post("/self-service/signin", url.Values{"username": {user}, "method": {method}})
	if a.status != http.StatusSeeOther {
		return a
	}
	return p.get(a.header.Get("Location"))
}

// aliceOnPage is the page's harness with a user alice who has an active TOTP factor (its
// current code), and a browser on the page.
func aliceOnPage(t *testing.T) (*adminHarness, func() string, *pageClient) {
	t.Helper()
	h, code, p, _ := aliceOnPageKey(t)
	return h, code, p
}

// aliceOnPageKey is aliceOnPage with the secret of alice's factor too (for wrongCode).
func aliceOnPageKey(t *testing.T) (*adminHarness, func() string, *pageClient, string) {
	t.Helper()
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	_, code, secret := totpFactorKey(t, h, "alice")
	return h, code, &pageClient{t: t, h: h, addr: "198.51.100.7"}, secret
}

// codeRefused: a sign-in code refused as mistyped sends the browser back to the code form,
// saying so (post/redirect/get).
func codeRefused(a pageAnswer) bool {
	return a.status == http.StatusSeeOther && a.header.Get("Location") == "/self-service/signin/code?wrong=1"
}

// follow gets the Location of a redirect.
func (p *pageClient) follow(a pageAnswer) pageAnswer {
	p.t.Helper()
	if a.status != http.StatusSeeOther {
		p.t.Fatalf("want a redirect, got %d\n%s", a.status, a.body)
	}
	return p.get(a.header.Get("Location"))
}

// TestRemovingTheSignInFactorSaysSo: removing the factor the page was signed in with ends
// the session (its proof is gone), and the sign-in form that follows says why; removing
// another factor keeps the user on the factors page.
func TestRemovingTheSignInFactorSaysSo(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	used, code := totpFactor(t, h, "alice")
	other, _ := totpFactor(t, h, "alice")
	totpFactor(t, h, "alice") // a third: the one signed in with is not the last
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	p.signIn("alice", code())

	a := p.follow(p.post("/self-service/factors/"+other+"/remove", url.Values{}))
	if !strings.Contains(a.body, "Your sign-in methods") || !strings.Contains(a.body, ">Removed<") {
		t.Fatalf("after removing another factor:\n%s", a.body)
	}
	a = p.follow(p.post("/self-service/factors/"+used+"/remove", url.Values{}))
	if !strings.Contains(a.body, `action="/self-service/signin"`) ||
		!strings.Contains(a.body, "Removed. You had signed in with that sign-in method, so sign in again with another.") {
		t.Fatalf("after removing the factor signed in with: no notice\n%s", a.body)
	}
	// The notice is emfa's own: a link cannot put words on the sign-in form.
	if a := (&pageClient{t: t, h: h, addr: "198.51.100.8"}).get("/self-service/?done=Call+us+at+555"); strings.Contains(a.body, "Call us") {
		t.Errorf("the sign-in form shows a notice from the address:\n%s", a.body)
	}
}

// TestSessionCookieIsLax: the session cookie is SameSite=Lax, so a link to the page from
// another site (a top-level GET) carries it and shows the signed-in page rather than
// replacing the session with a new one; every form is a POST with a CSRF token, and no GET
// changes anything. A GET that carries the cookie keeps it; one without sets a new
// anonymous cookie on its own browser only, and the signed-in session goes on. The
// factors page shows only notices of emfa's own, since another site can now link to it.
func TestSessionCookieIsLax(t *testing.T) {
	h, code, p := aliceOnPage(t)
	p.signIn("alice", code())
	c := p.cookie
	if c.SameSite != http.SameSiteLaxMode || !c.HttpOnly || c.Path != "/self-service/" {
		t.Fatalf("session cookie: SameSite %v, HttpOnly %v, Path %q; want Lax, HttpOnly, /self-service/", c.SameSite, c.HttpOnly, c.Path)
	}
	a := p.get("/self-service/")
	if len(a.cookies) != 0 || !strings.Contains(a.body, "Your sign-in methods") {
		t.Fatalf("a GET with the cookie: sets %v\n%s", a.cookies, a.body)
	}
	stranger := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	if a := stranger.get("/self-service/"); len(a.cookies) != 1 || a.cookies[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("a GET without a cookie: sets %v, want one Lax cookie", a.cookies)
	}
	if a := p.get("/self-service/"); !strings.Contains(a.body, "Your sign-in methods") {
		t.Fatalf("the signed-in session after another browser's visit:\n%s", a.body)
	}
	for done, shown := range map[string]bool{"Removed": true, "Renamed": true, "Added Authenticator app": true, "Call us at 555": false} {
		a := p.get("/self-service/?done=" + url.QueryEscape(done))
		if got := strings.Contains(a.body, done); got != shown {
			t.Errorf("notice %q shown: %v, want %v", done, got, shown)
		}
	}
}

// sessionCounter is a SQLite store that counts the page's sessions it stores.
type sessionCounter struct {
	*sqlite.Store
	puts atomic.Int64
}

func (s *sessionCounter) PutSession(ctx context.Context, sess store.SelfServiceSession, audit ...store.AuditEvent) error {
	s.puts.Add(1)
	return s.Store.PutSession(ctx, sess, audit...)
}

// newCountingPage is newSelfServiceHarness over a store that counts stored sessions.
func newCountingPage(t *testing.T) (*adminHarness, *sessionCounter) {
	t.Helper()
	st := &sessionCounter{Store: testdb.SQLite(t).(*sqlite.Store)}
	h := newAdminHarnessOn(t, st)
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = h.manager; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h, st
}

// TestAnonymousVisitsStoreNothing: the sign-in form is for anyone on the internet, so
// showing it stores nothing (its CSRF token is a signed cookie): visits without a cookie,
// and again with the one they got, which is kept rather than replaced. Starting a sign-in
// stores nothing either (its state is sealed in a new cookie); only the signed-in session
// is stored, and the sign-in goes on as before. A cookie not signed by the server, or
// another browser's form token, is refused.
func TestAnonymousVisitsStoreNothing(t *testing.T) {
	h, st := newCountingPage(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	_, code := totpFactor(t, h, "alice")
	for range 20 {
		(&pageClient{t: t, h: h, addr: "198.51.100.7"}).get("/self-service/")
	}
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	p.get("/self-service/")
	first, csrf := p.cookie, p.csrf
	for range 5 {
		if a := p.get("/self-service/"); len(a.cookies) != 0 || p.csrf != csrf {
			t.Fatalf("a visit with the anonymous cookie: sets %v, form token changed %v", a.cookies, p.csrf != csrf)
		}
	}
	if n := st.puts.Load(); n != 0 {
		t.Fatalf("26 anonymous visits stored %d sessions, want 0", n)
	}

	// One character of the signed cookie changed, in its middle (the last ones of base64
	// may carry padding bits, and may already be what a forger writes).
	b := []byte(first.Value)
	if i := len(b) / 2; b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	forged := &pageClient{t: t, h: h, addr: "198.51.100.7", csrf: csrf,
		cookie: &http.Cookie{Name: selfServiceCookie, Value: string(b)}}
	if a := forged.startSignIn("alice", "app"); a.status == http.StatusOK {
		t.Fatalf("a cookie the server did not sign: %d, want a refusal", a.status)
	}
	other := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	other.get("/self-service/")
	other.csrf = csrf // a form token of another browser's
	if a := other.startSignIn("alice", "app"); a.status != http.StatusForbidden {
		t.Fatalf("another browser's form token: %d, want 403", a.status)
	}
	if n := st.puts.Load(); n != 0 {
		t.Fatalf("refused sign-ins stored %d sessions, want 0", n)
	}

	// Nor does starting a sign-in, from many browsers, with any name and method: its
	// state is sealed in the cookie, until a factor is proven.
	for i := range 20 {
		// Each from its own address: a code sent takes from its address's budget.
		b := &pageClient{t: t, h: h, addr: fmt.Sprint("203.0.113.", 10+i)}
		b.get("/self-service/")
		method := []string{"app", "smsotp"}[i%2]
		if a := b.startSignIn(fmt.Sprint("user", i), method); a.status != http.StatusOK {
			t.Fatalf("start %d: %d\n%s", i, a.status, a.body)
		}
	}
	if a := p.startSignIn("alice", "app"); a.status != http.StatusOK {
		t.Fatalf("start: %d\n%s", a.status, a.body)
	}
	if p.cookie == nil || p.cookie.Value == first.Value || p.csrf == csrf {
		t.Fatalf("a sign-in started: cookie and form token not replaced")
	}
	if n := st.puts.Load(); n != 0 {
		t.Fatalf("21 sign-ins started: %d sessions stored, want 0", n)
	}
	if a := p.post("/self-service/signin/code", url.Values{"code": {code()}}); a.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", a.status, a.body)
	}
	if n := st.puts.Load(); n != 1 {
		t.Fatalf("a sign-in: %d sessions stored, want 1 (the signed-in one)", n)
	}
	if a := p.get("/self-service/"); !strings.Contains(a.body, "Your sign-in methods") {
		t.Fatalf("after the sign-in:\n%s", a.body)
	}
}

// TestUnknownLinksThrottledAndRecorded: opening links that do not exist is guessing, from
// anyone on the internet: each counts against the address's budget of the page (429 with
// Retry-After past it, another address unaffected, a real link still opens), and the
// record of each names the address and the request; past a few per address, the refusals
// are logged and counted, not each recorded, lest a flood fill the audit table.
func TestUnknownLinksThrottledAndRecorded(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	clk := &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	h.srv.signIns.now = clk.Now
	h.srv.pages.linkAudits.now = clk.Now
	link := linkOf(t, h, "alice")
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	guess := func(p *pageClient) pageAnswer {
		t.Helper()
		return p.get("/self-service/link/" + strings.Repeat("x", 40) + fmt.Sprint(time.Now().UnixNano()))
	}
	for i := range throttleBurst {
		if a := guess(p); a.status != http.StatusNotFound {
			t.Fatalf("unknown link %d: %d, want 404", i+1, a.status)
		}
	}
	a := guess(p)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d (Retry-After %q), want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	// A real link opens all the same: only wrong ones are refused.
	if a := p.get(link); a.status != http.StatusOK {
		t.Fatalf("a real link from the throttled address: %d, want 200", a.status)
	}
	if a := guess(&pageClient{t: t, h: h, addr: "203.0.113.9"}); a.status != http.StatusNotFound {
		t.Fatalf("another address: %d, want 404", a.status)
	}
	for range 20 {
		clk.Advance(throttleEvery)
		if a := guess(p); a.status != http.StatusNotFound {
			t.Fatalf("after %s: %d, want one more try (404)", throttleEvery, a.status)
		}
	}
	evs, err := h.store.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var mine, others int
	for _, ev := range evs {
		if ev.Resource != "admin.selfservice.open" || ev.Outcome != "FAILED" {
			continue
		}
		if ev.RequestID == "" {
			t.Errorf("a refused link's record has no request id: %+v", ev)
		}
		switch {
		case strings.Contains(ev.Reason, "198.51.100.7"):
			mine++
		case strings.Contains(ev.Reason, "203.0.113.9"):
			others++
		default:
			t.Errorf("a refused link's record names no address: %+v", ev)
		}
	}
	if mine != linkAuditBurst || others != 1 {
		t.Errorf("records of unknown links: %d from the guessing address, %d from the other; want %d and 1", mine, others, linkAuditBurst)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "unknown link not recorded") {
		t.Errorf("the unrecorded refusals are not logged:\n%s", logs)
	}
}

// TestPageBudgetsConfigured: the page's budgets per address are the operator's
// (selfService.throttle): a burst of 3 refuses the 4th failed sign-in, and a new one is
// earned after the configured interval, not the default's; the unknown links recorded
// stop at their own burst.
func TestPageBudgetsConfigured(t *testing.T) {
	h := newAdminHarness(t)
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) {
		o.Admin = h.manager
		o.SelfService = ss
		o.SelfServiceBudgets = PageBudgets{SignInBurst: 3, SignInEvery: time.Minute, LinkRecordBurst: 2, LinkRecordEvery: time.Hour}
	})
	clk := &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	h.srv.signIns.now = clk.Now
	h.srv.pages.linkAudits.now = clk.Now
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	try := func() pageAnswer {
		t.Helper()
		p.get("/self-service/")
		if a := p.startSignIn("someone", "app"); a.status != http.StatusOK {
			return a
		}
		return p.post("/self-service/signin/code", url.Values{"code": {"000000"}})
	}
	for i := range 3 {
		if a := try(); !codeRefused(a) {
			t.Fatalf("wrong code %d: %d, want 303 to the form again", i+1, a.status)
		}
	}
	if a := try(); a.status != http.StatusTooManyRequests {
		t.Fatalf("the 4th: %d, want 429 past a burst of 3", a.status)
	}
	clk.Advance(throttleEvery) // the default's interval earns nothing here
	if a := try(); a.status != http.StatusTooManyRequests {
		t.Fatalf("after %s: %d, want 429 (one a minute)", throttleEvery, a.status)
	}
	clk.Advance(time.Minute)
	if a := try(); !codeRefused(a) {
		t.Fatalf("after a minute: %d, want one more attempt (the code refused)", a.status)
	}

	other := &pageClient{t: t, h: h, addr: "203.0.113.9"}
	for range 3 {
		other.get("/self-service/link/" + strings.Repeat("x", 40) + fmt.Sprint(time.Now().UnixNano()))
	}
	evs, err := h.store.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for _, ev := range evs {
		if ev.Resource == "admin.selfservice.open" && strings.Contains(ev.Reason, "203.0.113.9") {
			recorded++
		}
	}
	if recorded != 2 {
		t.Errorf("unknown links recorded: %d, want 2 (the configured burst)", recorded)
	}
}

// TestTooManyLinksSaysWhen: a second link within the minute is refused 429 with
// Retry-After, so a script issuing links knows when the next one is allowed.
func TestTooManyLinksSaysWhen(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`); code != 201 {
		t.Fatalf("link: %d %v", code, out)
	}
	code, text, header := h.do(t, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`, "Authorization", "Bearer "+h.write)
	if code != http.StatusTooManyRequests || !strings.Contains(text, `"too_many_links"`) {
		t.Fatalf("second link: %d %s, want 429 too_many_links", code, text)
	}
	if secs, err := strconv.Atoi(header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q, want the seconds left of the minute", header.Get("Retry-After"))
	}
}

// TestSignInStepsSurviveAReload: each step of a page sign-in answers a redirect to a page
// that a GET shows (post/redirect/get), so that a reload or Back shows the step again and
// never posts its form again: the user name (a new code sent, a push to the phone), a
// mistyped code (one more of the user name's page attempts), a resend.
func TestSignInStepsSurviveAReload(t *testing.T) {
	h, code, p, secret := aliceOnPageKey(t)
	p.get("/self-service/")
	a := p.post("/self-service/signin", url.Values{"username": {"alice"}, "method": {"app"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/signin/code" {
		t.Fatalf("the sign-in form: %d to %q, want 303 to /self-service/signin/code", a.status, a.header.Get("Location"))
	}
	started := *p.cookie
	for i := range 2 { // the page, then a reload of it
		a = p.get("/self-service/signin/code")
		if a.status != http.StatusOK || !strings.Contains(a.body, `action="/self-service/signin/code"`) || strings.Contains(a.body, "not right") {
			t.Fatalf("GET %d of the code form: %d\n%s", i+1, a.status, a.body)
		}
		if len(a.cookies) != 0 {
			t.Fatalf("GET %d of the code form set cookies %v: it must change nothing", i+1, a.cookies)
		}
	}
	if a = p.get("/self-service/signin/approve"); a.status != http.StatusOK || !strings.Contains(a.body, `id="code"`) {
		t.Fatalf("the approval address of a sign-in by code shows its code form: %d\n%s", a.status, a.body)
	}

	// Not "000000": alice's key is random, and accepts it about once in 300,000 runs.
	if a = p.post("/self-service/signin/code", url.Values{"code": {wrongCode(t, secret)}}); !codeRefused(a) {
		t.Fatalf("a wrong code: %d to %q, want 303 to the form again", a.status, a.header.Get("Location"))
	}
	for i := range 3 { // the form that says so, and two reloads
		a = p.get("/self-service/signin/code?wrong=1")
		if a.status != http.StatusOK || !strings.Contains(a.body, "That code is not right. Try again.") {
			t.Fatalf("GET %d after a wrong code: %d\n%s", i+1, a.status, a.body)
		}
	}
	// A wrong code on the page is not the factor's failure (anyone could lock its owner
	// out of Verify) but one of the user name's page attempts, audited: one, not three.
	if n, out := h.admin(t, h.read, "GET", "/admin/v1/audit?action=admin.selfservice.signin&outcome=FAILED&user=alice", ""); n != 200 ||
		len(out["events"].([]any)) != 1 {
		t.Fatalf("failed page sign-ins audited after one wrong code and two reloads: %d %v, want 1", n, out)
	}
	// Words of its own only: a notice the page does not know is not shown.
	if a = p.get("/self-service/signin/code?n=" + url.QueryEscape("<b>Call us</b>") + "&wrong=2"); a.status != http.StatusOK || strings.Contains(a.body, "Call us") || strings.Contains(a.body, "not right") {
		t.Fatalf("an unknown notice: %d\n%s", a.status, a.body)
	}
	// A code spent is the form by its GET too (the POST redirects there), offering a new
	// code. A method locked says so only where the sign-in found the lock
	// (TestSignInLockWaitFromTheSignIn): never a link's wait.
	for q, says := range map[string]string{
		"spent=1":    "That code can no longer be used",
		"locked=1":   "",
		"locked=900": "",
		"locked=-5":  "",
	} {
		a = p.get("/self-service/signin/code?" + q)
		resend := strings.Contains(a.body, `id="resend"`)
		if a.status != http.StatusOK || says != "" && (!strings.Contains(a.body, says) || !resend) || says == "" && (resend || strings.Contains(a.body, `id="error"`)) {
			t.Errorf("GET the code form ?%s: %d, want it to say %q\n%s", q, a.status, says, a.body)
		}
	}

	if a = p.post("/self-service/signin/code", url.Values{"code": {code()}}); a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/" {
		t.Fatalf("the right code: %d to %q", a.status, a.header.Get("Location"))
	}
	// Signed in, the sign-in's steps are behind: their address leads to the page.
	if a = p.get("/self-service/signin/code"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/" {
		t.Fatalf("the code form once signed in: %d to %q, want the page", a.status, a.header.Get("Location"))
	}
	// A browser without a sign-in under way, or another browser, is sent to the page.
	fresh := &pageClient{t: t, h: h, addr: "198.51.100.8"}
	fresh.get("/self-service/")
	if a = fresh.get("/self-service/signin/code"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/" {
		t.Fatalf("no sign-in under way: %d to %q, want the page", a.status, a.header.Get("Location"))
	}
	if started.Value == p.cookie.Value {
		t.Fatalf("the sign-in's cookie was not replaced by the signed-in one")
	}
}
