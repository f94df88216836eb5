package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// TestPageAnswersHEAD: a HEAD of the page's addresses (a link checker, a proxy's probe)
// answers as the GET does, headers and all, without a body; a wrong method's 405 lists
// HEAD with GET in its Allow.
func TestPageAnswersHEAD(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	srv := httptest.NewServer(h.srv.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, path := range []string{"/self-service", "/self-service/", "/self-service/style.css", "/self-service/static/poll.js",
		"/self-service/enroll", "/self-service/ready", "/self-service/signin"} {
		t.Run(path, func(t *testing.T) {
			get, _ := send(http.MethodGet, path)
			head, body := send(http.MethodHead, path)
			if head.StatusCode != get.StatusCode || body != "" {
				t.Errorf("HEAD: %d with %d bytes, want GET's %d without a body", head.StatusCode, len(body), get.StatusCode)
			}
			for _, k := range []string{"Content-Type", "Content-Security-Policy", "Cache-Control", "Location"} {
				if head.Header.Get(k) != get.Header.Get(k) {
					t.Errorf("HEAD's %s %q, GET's %q", k, head.Header.Get(k), get.Header.Get(k))
				}
			}
		})
	}
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/self-service/", "GET, HEAD"},
		{"DELETE", "/self-service/enroll", "GET, HEAD, POST"},
		{"POST", "/self-service/style.css", "GET, HEAD"},
	} {
		res, body := send(tc.method, tc.path)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != tc.allow || !strings.Contains(body, "cannot be opened that way") {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q and the page's message", tc.method, tc.path, res.StatusCode, res.Header.Get("Allow"), tc.allow)
		}
	}
}

// TestSignInTrimsTheUserName: a user name typed or pasted with spaces around it signs in
// as the name itself; before, it was a name no one has, and the right code failed.
func TestSignInTrimsTheUserName(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors", `{"type":"totp","activation":"immediate"}`)
	if code != 201 {
		t.Fatalf("enroll: %d %v", code, out)
	}
	secret, _ := out["enrollment"].(map[string]any)["secret"].(string)
	p := &pageBrowser{h: h}
	p.do(t, "GET", "/self-service/", nil)
	p.do(t, "POST", "/self-service/signin", url.Values{"username": {"  alice\t"}, "method": {"app"}})
	now, _ := totp.GenerateCode(secret, time.Now())
	if code := p.do(t, "POST", "/self-service/signin/code", url.Values{"code": {now}}); code != http.StatusSeeOther {
		t.Fatalf("sign in as %q: %d %s", "  alice\t", code, p.body)
	}
	if p.do(t, "GET", "/self-service/", nil); !strings.Contains(p.body, "Signed in as alice.") {
		t.Errorf("after signing in:\n%s", p.body)
	}
}

// sentTo records where each code went.
type sentTo struct {
	mu sync.Mutex
	to []string
	// gate, when set (before any request), holds every Send until it is closed: a
	// gateway slow enough that the requests sending codes are all under way at once.
	gate chan struct{}
}

func (*sentTo) Kind() string                 { return "record" }
func (*sentTo) Serves(delivery.Channel) bool { return true }
func (s *sentTo) Send(_ context.Context, m delivery.Message) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.to = append(s.to, m.To)
	return nil
}

func (s *sentTo) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.to)
}

// newCodePageHarness is the self-service page offering an app, texted and e-mailed
// codes, which go to sent.
func newCodePageHarness(t *testing.T) (*adminHarness, *sentTo) {
	h, sent, _ := newCodePageHarnessAt(t, &fakeClock{t: time.Now()}, "")
	return h, sent
}

// newCodePageHarnessAt is newCodePageHarness on clk's time, with help on its error pages.
func newCodePageHarnessAt(t *testing.T, clk *fakeClock, help string) (*adminHarness, *sentTo, *fakeClock) {
	t.Helper()
	h, sent := newCodePage(t, codePage{clk: clk, help: help})
	return h, sent, clk
}

// codePage is what a page harness with sent codes (newCodePage) differs in.
type codePage struct {
	clk  *fakeClock // nil: the machine's clock
	help string     // the error pages' help text
	// caps: the provider's capabilities (nil: totp, smsotp, emailotp); each sent-code
	// one sends through sender.
	caps   []string
	sender delivery.Sender // nil: a sentTo, which newCodePage returns
	// limits: the engine's default send limits (one code per 30 seconds); else none,
	// so that a new code goes out at once.
	limits         bool
	requestTimeout time.Duration // 0: the harness's
}

// newCodePage is the self-service page over a builtin engine whose codes go to o.sender.
func newCodePage(t *testing.T, o codePage) (*adminHarness, *sentTo) {
	t.Helper()
	st := testdb.SQLite(t)
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now
	if o.clk != nil {
		now = o.clk.Now
	}
	if o.caps == nil {
		o.caps = []string{"totp", "smsotp", "emailotp"}
	}
	var sent *sentTo
	if o.sender == nil {
		sent = &sentTo{}
		o.sender = sent
	}
	config := map[string]any{}
	for _, c := range o.caps {
		if c == "smsotp" || c == "emailotp" {
			config[c] = map[string]any{"sender": "record"}
		}
	}
	if !o.limits {
		config["sendLimits"] = map[string]any{"perUser": []any{}, "perDestination": []any{}}
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: o.caps, Now: now, Config: config,
		Senders: func(string) (delivery.Sender, error) { return o.sender, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}, Now: now,
		Capabilities: map[string][]string{"acme": o.caps}})
	if err != nil {
		t.Fatal(err)
	}
	h := &adminHarness{store: st, manager: m}
	if h.write, err = m.CreateToken(context.Background(), "cli", "provisioning", lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	h.read = h.write
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: o.caps, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com", HelpText: o.help})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(opts *Options) {
		opts.Admin = m
		opts.SelfService = ss
		opts.MaxBodyBytes = 64 << 10
		if o.requestTimeout != 0 {
			opts.RequestTimeout = o.requestTimeout
		}
	})
	return h, sent
}

// TestPhoneAsTyped: a phone number typed as people write it is sent to in E.164 where
// that is unambiguous; one that does not say its country, or an address that cannot be
// used, brings the form back with what was typed, the method chosen, the field marked
// and described by a message saying the form wanted.
func TestPhoneAsTyped(t *testing.T) {
	h, sent := newCodePageHarness(t)
	for i, tc := range []struct{ typed, want string }{
		{"+1 (555) 010-0199", "+15550100199"},
		{"0044 20 7946 0958", "+442079460958"},
	} {
		p := &pageBrowser{h: h}
		p.do(t, "GET", linkOf(t, h, fmt.Sprint("user", i)), nil)
		p.do(t, "GET", "/self-service/enroll", nil)
		if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"smsotp"}, "destination": {tc.typed}}); code != 200 || !strings.Contains(p.body, `id="code"`) {
			t.Fatalf("%q: %d %s", tc.typed, code, p.body)
		}
		if got := sent.all(); len(got) != i+1 || got[i] != tc.want {
			t.Errorf("%q: codes sent to %v, want the last to %s", tc.typed, got, tc.want)
		}
	}

	p := &pageBrowser{h: h}
	p.do(t, "GET", linkOf(t, h, "carol"), nil)
	p.do(t, "GET", "/self-service/enroll", nil)
	if strings.Contains(p.body, "destination-hint") {
		t.Errorf("a hint of a country, where national numbers are read as none's:\n%s", p.body)
	}
	for _, tc := range []struct{ typ, typed, want string }{
		{"smsotp", "020 7946 0958", "with + and the country code"},
		{"smsotp", "call me", "with + and the country code"},
		{"smsotp", "+1 555 010 019", "a digit too many or too few for its country"},
		{"smsotp", "+28 1234 5678", "No country's code follows the +"},
		{"emailotp", "carol at example", "type one address"},
	} {
		code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {tc.typ}, "destination": {tc.typed}})
		if code != http.StatusBadRequest || !strings.Contains(p.body, tc.want) || !strings.Contains(p.body, `id="enroll"`) ||
			!strings.Contains(p.body, `value="`+tc.typed+`" aria-invalid="true" autofocus aria-describedby="error">`) ||
			!strings.Contains(p.body, `value="`+tc.typ+`" checked>`) || !strings.Contains(p.body, `id="error"`) {
			t.Errorf("%s %q: %d, want the form again with it kept, marked, and %q:\n%s", tc.typ, tc.typed, code, tc.want, p.body)
		}
	}
	if n := len(sent.all()); n != 2 {
		t.Errorf("%d codes sent, want none to what was refused", n)
	}
	// The form, right this time, goes on.
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"smsotp"}, "destination": {"+44 (0)20 7946 0959"}}); code != 200 || !strings.Contains(p.body, `id="code"`) {
		t.Fatalf("after the form came back: %d %s", code, p.body)
	}

	// A user with a country of their own is told so, and types a national number of it.
	if code, out := h.admin(t, h.write, "PATCH", "/admin/v1/users/carol", `{"country":"FR"}`); code != 200 {
		t.Fatalf("carol's country: %d %v", code, out)
	}
	p.do(t, "GET", "/self-service/enroll", nil)
	const hint = `<small id="destination-hint">A phone number typed without + and its country code is read as a number in France (+33).</small>`
	if !strings.Contains(p.body, hint) || !strings.Contains(p.body, `autocomplete="tel" value="" aria-describedby="destination-hint">`) {
		t.Errorf("the choice of a user of FR, want the field described by %s:\n%s", hint, p.body)
	}
	// One that is no number there is refused in words that name the country.
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"smsotp"}, "destination": {"06 12 34"}}); code != http.StatusBadRequest ||
		!strings.Contains(p.body, "That is not a phone number in France. Check it, or type it with + and the country code") ||
		!strings.Contains(p.body, `value="06 12 34" aria-invalid="true" autofocus aria-describedby="error destination-hint">`) || !strings.Contains(p.body, hint) {
		t.Errorf("a national number none of FR's: %d\n%s", code, p.body)
	}
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"smsotp"}, "destination": {"06 12 34 56 78"}}); code != 200 || !strings.Contains(p.body, `id="code"`) {
		t.Fatalf("a national number of the user's country: %d %s", code, p.body)
	}
	if got := sent.all(); got[len(got)-1] != "+33612345678" {
		t.Errorf("codes sent to %v, want the last to +33612345678", got)
	}
	// A name English says "the" before.
	if code, out := h.admin(t, h.write, "PATCH", "/admin/v1/users/carol", `{"country":"US"}`); code != 200 {
		t.Fatalf("carol's country: %d %v", code, out)
	}
	if p.do(t, "GET", "/self-service/enroll", nil); !strings.Contains(p.body, "read as a number in the United States (+1).") {
		t.Errorf("the choice of a user of US:\n%s", p.body)
	}
}

// TestPageSaysCookiesAreBlocked: a browser that keeps no cookie used to hear "your
// session has ended" at its first form, a session it never had. The first page it is sent
// after its first cookie (the sign-in form's action, a link's step to the choice) carries
// a mark; arriving there without the cookie, it hears that cookies are blocked. With the
// cookie, all goes on as before, and without the mark, no cookie is an ended session.
func TestPageSaysCookiesAreBlocked(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	const blocked = "Your browser is blocking cookies"

	p := &pageBrowser{h: h}
	p.do(t, "GET", "/self-service/", nil)
	if !strings.Contains(p.body, `action="/self-service/signin?c=1"`) {
		t.Fatalf("the first sign-in form has no cookie test:\n%s", p.body)
	}
	kept := p.cookie
	p.cookie = "" // the browser refused it
	if code := p.do(t, "POST", "/self-service/signin?c=1", url.Values{"username": {"alice"}, "method": {"app"}}); code != http.StatusBadRequest ||
		!strings.Contains(p.body, blocked) || !strings.Contains(p.body, "Allow cookies for this site") {
		t.Errorf("a form posted without the cookie it was given: %d\n%s", code, p.body)
	}
	p.cookie = kept
	if code := p.do(t, "POST", "/self-service/signin?c=1", url.Values{"username": {"alice"}, "method": {"app"}}); code != http.StatusOK || !strings.Contains(p.body, `id="code"`) {
		t.Errorf("with the cookie kept: %d\n%s", code, p.body)
	}
	if p.do(t, "GET", "/self-service/", nil); strings.Contains(p.body, "?c=1") {
		t.Errorf("a browser with its cookie is tested again:\n%s", p.body)
	}
	gone := &pageBrowser{h: h, csrf: "x"}
	if code := gone.do(t, "POST", "/self-service/signin", url.Values{"username": {"alice"}, "method": {"app"}}); code != http.StatusUnauthorized || strings.Contains(gone.body, blocked) {
		t.Errorf("no cookie, no mark: %d, want the session's end\n%s", code, gone.body)
	}

	// A link: its page sends the browser on with the mark.
	link := &pageBrowser{h: h}
	link.do(t, "GET", linkOf(t, h, "bob"), nil)
	if !strings.Contains(link.body, `url=/self-service/enroll?c=1`) {
		t.Fatalf("the link's page:\n%s", link.body)
	}
	kept, link.cookie = link.cookie, ""
	if code := link.do(t, "GET", "/self-service/enroll?c=1", nil); code != http.StatusBadRequest || !strings.Contains(link.body, blocked) {
		t.Errorf("the choice without the link's cookie: %d\n%s", code, link.body)
	}
	link.cookie = kept
	if code := link.do(t, "GET", "/self-service/enroll?c=1", nil); code != http.StatusSeeOther || link.header.Get("Location") != "/self-service/enroll" {
		t.Errorf("the choice with the cookie: %d %q, want 303 to the address without the mark", code, link.header.Get("Location"))
	}
	if code := link.do(t, "GET", "/self-service/enroll", nil); code != http.StatusOK || !strings.Contains(link.body, "Hello bob.") {
		t.Errorf("the choice: %d\n%s", code, link.body)
	}
}

// TestExpiredLinkSaysWhatToDo: an expired link says it expired and what to do next (ask
// for a new one), not only that it "cannot be used"; the operator's help text
// (selfService.helpText) is on every error page, escaped, and on no other page.
func TestExpiredLinkSaysWhatToDo(t *testing.T) {
	const help = "Call the IT help desk on +1 555 0100 <any time>."
	h, _, clk := newCodePageHarnessAt(t, &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}, help)
	path := linkOf(t, h, "alice")
	clk.Advance(time.Hour)
	p := &pageBrowser{h: h}
	if code := p.do(t, "GET", path, nil); code != http.StatusConflict || !strings.Contains(p.body, "<h1>This link has expired</h1>") ||
		!strings.Contains(p.body, "Ask your help desk (or whoever sent you the link) for a new one") {
		t.Errorf("an expired link: %d\n%s", code, p.body)
	}
	if !strings.Contains(p.body, `<p id="help">`+help+`</p>`) {
		t.Errorf("no help text on the error page:\n%s", p.body)
	}
	if p.do(t, "GET", "/self-service/nowhere", nil); !strings.Contains(p.body, help) {
		t.Errorf("no help text on a 404:\n%s", p.body)
	}
	if p.do(t, "GET", "/self-service/", nil); strings.Contains(p.body, help) {
		t.Errorf("help text on the sign-in form:\n%s", p.body)
	}
	// Escaped: the operator's text is text, never markup.
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if !strings.Contains(rec.Body.String(), "&lt;any time&gt;") {
		t.Errorf("help text not escaped:\n%s", rec.Body.String())
	}
}

// visibleText is what a page shows a person: its text, without markup (ids, addresses).
func visibleText(page string) string {
	return regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " ")
}

// TestPageSaysSignInMethods: the page speaks of sign-in methods, never of the API's
// "factors" or "capabilities", names a method's type and state in words, and shows
// times as people write them, with the time zone.
func TestPageSaysSignInMethods(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	link := &pageBrowser{h: h}
	link.do(t, "GET", linkOf(t, h, "bob"), nil)
	link.do(t, "GET", "/self-service/enroll", nil)
	pages := map[string]string{"choice": link.body}
	link.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
	pages["set-up"] = link.body
	user := signInPage(t, h)
	pages["list"] = user.body
	id := factorRow.FindStringSubmatch(user.body)
	if id == nil {
		t.Fatalf("no row:\n%s", user.body)
	}
	user.do(t, "POST", "/self-service/factors/"+id[1]+"/remove", url.Values{})
	pages["the last one removed"] = user.body
	if !strings.Contains(user.body, "This is your only active sign-in method") {
		t.Errorf("the last one's removal:\n%s", user.body)
	}
	for name, body := range pages {
		text := strings.ToLower(visibleText(body))
		if strings.Contains(text, "factor") || strings.Contains(text, "capabilit") {
			t.Errorf("the %s page says factor or capability:\n%s", name, visibleText(body))
		}
	}
	// What a sign-in's code page says of each method comes from its type.
	for _, m := range builtin.SignInMethods() {
		if text := strings.ToLower(m.Prompt + " " + m.Choice); strings.Contains(text, "factor") || strings.Contains(text, "capabilit") {
			t.Errorf("sign-in method %s says factor or capability: %q, %q", m.Method, m.Choice, m.Prompt)
		}
	}
	list := visibleText(pages["list"])
	today := day(time.Now(), pageZone)
	usedAt := regexp.MustCompile(`\d{1,2} [A-Z][a-z]+ \d{4}, \d{2}:\d{2} \S+`).FindString(list)
	zone, _ := time.Now().In(pageZone).Zone()
	if !strings.Contains(list, " Authenticator app ") || !strings.Contains(list, " "+today+" ") || !strings.Contains(list, " In use ") ||
		!strings.HasSuffix(usedAt, " "+zone) || strings.Contains(list, " totp ") || strings.Contains(list, " active ") {
		t.Errorf("the list, want its type, state and times in words (used at %q, zone %s):\n%s", usedAt, zone, list)
	}
}

func TestPageTimes(t *testing.T) {
	at := time.Date(2026, 5, 1, 7, 5, 0, 0, time.UTC)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	for _, tc := range []struct {
		zone      *time.Location
		day, when string
	}{
		{time.UTC, "1 May 2026", "1 May 2026, 07:05 UTC"},
		{paris, "1 May 2026", "1 May 2026, 09:05 CEST"},
		{time.FixedZone("", -3*3600), "1 May 2026", "1 May 2026, 04:05 -0300"},
	} {
		if d, w := day(at, tc.zone), when(at, tc.zone); d != tc.day || w != tc.when {
			t.Errorf("%s: %q, %q; want %q, %q", tc.zone, d, w, tc.day, tc.when)
		}
	}
}

// TestSignInLockWaitFromTheSignIn: a factor locked (by Verify's failures) while its code
// is on its way refuses the code typed on the page, which says how long the lock has
// left, from the lock the sign-in found and the clock, on every reload; once the lock is
// over it asks for a new code. What a link says of a lock is not read.
func TestSignInLockWaitFromTheSignIn(t *testing.T) {
	h, sent, clk := newCodePageHarnessAt(t, &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}, "")
	ctx := context.Background()
	if _, err := h.manager.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	en, err := h.manager.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationImmediate,
		Params: map[string]json.RawMessage{"phone": json.RawMessage(`"+15550100199"`)}})
	if err != nil {
		t.Fatal(err)
	}
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	p.get("/self-service/")
	if a := p.startSignIn("alice", "smsotp"); a.status != http.StatusOK || !strings.Contains(a.body, `id="code"`) {
		t.Fatalf("the sign-in by a texted code: %d\n%s", a.status, a.body)
	}
	drainPages(t, h) // the code goes out after the answer (pageSends)
	if got := sent.all(); len(got) != 1 || got[0] != "+15550100199" {
		t.Fatalf("codes sent to %v", got)
	}
	for range 10 {
		if _, err := h.store.RecordFailure(ctx, en.Factor.ID, clk.Now(), 10, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	a := p.post("/self-service/signin/code", url.Values{"code": {"123456"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/signin/code?locked=1" {
		t.Fatalf("a code for a factor locked meanwhile: %d to %q, want 303 to ?locked=1", a.status, a.header.Get("Location"))
	}
	for _, step := range []struct {
		advance time.Duration
		says    string
	}{
		{0, "it is locked for 5 minutes."},
		{0, "it is locked for 5 minutes."}, // a reload
		{3 * time.Minute, "it is locked for 2 minutes."},
		{3 * time.Minute, codeSpentText}, // within the session's 10 idle minutes
	} {
		clk.Advance(step.advance)
		a = p.get("/self-service/signin/code?locked=1")
		if a.status != http.StatusOK || !strings.Contains(a.body, step.says) || !strings.Contains(a.body, `id="resend"`) {
			t.Fatalf("the code form %v later: %d, want it to say %q and offer a new code\n%s", step.advance, a.status, step.says, a.body)
		}
	}
}
