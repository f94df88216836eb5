package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// ssBrowser is a cookie-keeping HTTP client on the self-service page.
type ssBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string // the last page's form token
}

func newSSBrowser(t *testing.T, base string) *ssBrowser {
	jar, _ := cookiejar.New(nil)
	return &ssBrowser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	titleRE  = regexp.MustCompile(`<h1>([^<]*)</h1>`)
	secretRE = regexp.MustCompile(`<code id="secret">([A-Z2-7]+)</code>`)
)

// page is a response: its status, its <h1> and its body.
type page struct {
	status      int
	title, body string
}

func (b *ssBrowser) read(resp *http.Response, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, body: string(data)}
	if m := titleRE.FindStringSubmatch(p.body); m != nil {
		p.title = html.UnescapeString(m[1])
	}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	return p
}

// refreshRE is the refresh the link's page makes, which a browser follows.
var refreshRE = regexp.MustCompile(`<meta http-equiv="refresh" content="0; url=(/[^"]*)">`)

// get fetches a page and, as a browser does, follows its immediate refresh.
func (b *ssBrowser) get(path string) page {
	b.t.Helper()
	p := b.read(b.c.Get(b.base + path))
	if m := refreshRE.FindStringSubmatch(p.body); m != nil && p.status == http.StatusOK {
		return b.get(m[1])
	}
	return p
}

// post sends a form; csrf is added unless the form sets it (or sets it to "-": none).
func (b *ssBrowser) post(path string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	} else if form.Get("csrf") == "-" {
		form.Del("csrf")
	}
	return b.read(b.c.PostForm(b.base+path, form))
}

func totpNow(t *testing.T, secret string) string {
	seed, err := builtin.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return builtin.HOTP(builtin.SHA1, seed, uint64(builtin.TOTPStep(time.Now().Unix(), 30)), 6)
}

// TestSelfServiceBadInput: each bad request on the page is answered with a page that says
// what went wrong, and changes nothing in the store.
func TestSelfServiceBadInput(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	app := &cli{}
	cfg := selfServiceConfig(t, mail, "http://127.0.0.1:1")
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, _, _ := app.serve(t, "--config", cfg)
	e := openTestEnv(t, cfg)
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	admin := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		return adminDo(t, base, token, method, path, body)
	}
	link := func(user string) string {
		t.Helper()
		code, out := admin("POST", "/admin/v1/users/"+user+"/activation-link", `{"deliver":false}`)
		if code != 201 {
			t.Fatalf("link for %s: %d %v", user, code, out)
		}
		return strings.TrimPrefix(out["url"].(string), "http://127.0.0.1:1")
	}
	factors := func(user string) []store.Factor {
		t.Helper()
		u, err := e.store.GetUser(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := e.store.ListFactors(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	states := func(user string) string {
		var s []string
		for _, f := range factors(user) {
			s = append(s, string(f.State))
		}
		return strings.Join(s, ",")
	}
	want := func(what string, p page, status int, title string) {
		t.Helper()
		if p.status != status || p.title != title {
			t.Fatalf("%s: %d %q, want %d %q\n%s", what, p.status, p.title, status, title, p.body)
		}
	}
	for _, u := range []string{"alice", "bob"} {
		if code, out := admin("POST", "/admin/v1/users", fmt.Sprintf(`{"name":%q}`, u)); code != 201 {
			t.Fatalf("create %s: %d %v", u, code, out)
		}
	}

	a := newSSBrowser(t, base)
	aliceLink := link("alice")
	want("open", a.get(aliceLink), 200, "Set up a sign-in method")

	t.Run("missing CSRF token", func(t *testing.T) {
		want("enroll without csrf", a.post("/self-service/enroll", url.Values{"type": {"totp"}, "csrf": {"-"}}), 403, "That did not work")
		if s := states("alice"); s != "" {
			t.Fatalf("factors: %s", s)
		}
	})
	t.Run("tampered CSRF token", func(t *testing.T) {
		good := a.csrf
		want("enroll, forged csrf", a.post("/self-service/enroll", url.Values{"type": {"totp"}, "csrf": {good[:len(good)-2] + "xx"}}), 403, "That did not work")
		a.csrf = good
		if s := states("alice"); s != "" {
			t.Fatalf("factors: %s", s)
		}
	})
	t.Run("oversized field", func(t *testing.T) {
		p := a.post("/self-service/enroll", url.Values{"type": {"emailotp"}, "destination": {strings.Repeat("a", 300) + "@example.com"}})
		want("enroll, 300-character address", p, 400, "That did not work")
		if !strings.Contains(p.body, "too long") {
			t.Fatalf("no reason: %s", p.body)
		}
		if s := states("alice"); s != "" {
			t.Fatalf("factors: %s", s)
		}
	})
	t.Run("tampered session cookie", func(t *testing.T) {
		c := newSSBrowser(t, base)
		u, _ := url.Parse(base + "/self-service/")
		c.c.Jar.SetCookies(u, []*http.Cookie{{Name: "emfa_ss", Value: strings.Repeat("A", 43), Path: "/self-service/"}})
		want("enroll with a made-up cookie", c.post("/self-service/enroll", url.Values{"type": {"totp"}, "csrf": {a.csrf}}), 401, "Your session has ended")
		if s := states("alice"); s != "" {
			t.Fatalf("factors: %s", s)
		}
	})

	var replay url.Values // the winner's confirmation, replayed below
	var winner *ssBrowser
	var winnerCookies []*http.Cookie // its cookie, which the answer cleared
	t.Run("link used in two sessions at once", func(t *testing.T) {
		b := newSSBrowser(t, base)
		want("open in a second browser", b.get(aliceLink), 200, "Set up a sign-in method")
		browsers := []*ssBrowser{a, b}
		forms := make([]url.Values, 2)
		// Two types: a factor started on the page replaces the pending one of its type
		// that another session started, so that of two apps only the newer would be left.
		p := a.post("/self-service/enroll", url.Values{"type": {"totp"}})
		want("enroll an app", p, 200, "Confirm your new sign-in method")
		forms[0] = url.Values{"csrf": {a.csrf}, "code": {totpNow(t, secretRE.FindStringSubmatch(p.body)[1])}}
		const addr = "alice.race@example.com"
		want("enroll an e-mail address", b.post("/self-service/enroll", url.Values{"type": {"emailotp"}, "destination": {addr}}), 200, "Confirm your new sign-in method")
		var sent string
		if ms := mail.To(addr); len(ms) == 1 {
			sent = regexp.MustCompile(`\b\d{6}\b`).FindString(ms[0].Data)
		}
		if sent == "" {
			t.Fatalf("no code mailed to %s: %v", addr, mail.To(addr))
		}
		forms[1] = url.Values{"csrf": {b.csrf}, "code": {sent}}
		if s := states("alice"); s != "pending,pending" {
			t.Fatalf("factors before: %s", s)
		}
		u, _ := url.Parse(base + "/self-service/")
		cookies := [][]*http.Cookie{a.c.Jar.Cookies(u), b.c.Jar.Cookies(u)}
		got := make([]page, 2)
		var wg sync.WaitGroup
		for i, br := range browsers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = br.post("/self-service/confirm", forms[i])
			}()
		}
		wg.Wait()
		wins := 0
		for i, p := range got {
			switch {
			case p.status == 200 && p.title == "You are all set":
				wins++
				replay, winner, winnerCookies = forms[i], browsers[i], cookies[i]
			case p.status == 409 && p.title == "This link cannot be used":
			default:
				t.Fatalf("confirmation %d: %d %q\n%s", i, p.status, p.title, p.body)
			}
		}
		if wins != 1 {
			t.Fatalf("%d confirmations won", wins)
		}
		if s := states("alice"); s != "active,pending" && s != "pending,active" {
			t.Fatalf("factors after: %s", s)
		}
	})
	t.Run("link used twice", func(t *testing.T) {
		c := newSSBrowser(t, base)
		p := c.get(aliceLink)
		want("open a spent link", p, 409, "This link cannot be used")
		if !strings.Contains(p.body, "used already") {
			t.Fatalf("no reason: %s", p.body)
		}
	})
	t.Run("replayed form post", func(t *testing.T) {
		before := states("alice")
		// The cookie put back as it was: the session behind it is gone all the same.
		u, _ := url.Parse(base + "/self-service/")
		// The session's cookie (the enrollment's shown cookie stays as it was).
		i := slices.IndexFunc(winnerCookies, func(c *http.Cookie) bool { return c.Name == "emfa_ss" })
		if i < 0 {
			t.Fatalf("cookies: %v", winnerCookies)
		}
		c := *winnerCookies[i]
		c.Path = "/self-service/"
		winner.c.Jar.SetCookies(u, []*http.Cookie{&c})
		if got := winner.c.Jar.Cookies(u); !slices.ContainsFunc(got, func(k *http.Cookie) bool { return k.Name == "emfa_ss" && k.Value == c.Value }) {
			t.Fatalf("cookie not restored: %v", got)
		}
		// Within a minute of the set-up, the same form posted again (a double click) is
		// answered as the first was, done, and changes nothing; the session can do
		// nothing else.
		want("confirm again", winner.post("/self-service/confirm", replay), 200, "You are all set")
		want("enroll after it", winner.post("/self-service/enroll", url.Values{"type": {"totp"}}), 401, "Your session has ended")
		if s := states("alice"); s != before {
			t.Fatalf("factors: %s, were %s", s, before)
		}
	})
	t.Run("user disabled during the session", func(t *testing.T) {
		c := newSSBrowser(t, base)
		want("open bob's link", c.get(link("bob")), 200, "Set up a sign-in method")
		if code, out := admin("POST", "/admin/v1/users/bob/disable", ``); code != 200 {
			t.Fatalf("disable: %d %v", code, out)
		}
		want("enroll after disable", c.post("/self-service/enroll", url.Values{"type": {"totp"}}), 401, "Your session has ended")
		if s := states("bob"); s != "" {
			t.Fatalf("bob's factors: %s", s)
		}
		// Enabled again, the old session stays ended.
		admin("POST", "/admin/v1/users/bob/enable", ``)
		want("enroll after enable", c.post("/self-service/enroll", url.Values{"type": {"totp"}}), 401, "Your session has ended")
		if s := states("bob"); s != "" {
			t.Fatalf("bob's factors: %s", s)
		}
	})
}
