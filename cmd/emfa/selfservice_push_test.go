package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/store"
)

var (
	activationRE = regexp.MustCompile(`<code id="activation">([a-z0-9-]+)</code>`)
	numberRE     = regexp.MustCompile(`<strong id="number">(\d+)</strong>`)
)

// TestSelfServicePush: a user enrolls a push device through an activation link, the
// device (the CLI's `device register`) registers while the page polls, then the user
// signs in by approving the challenge on the device, with number matching.
func TestSelfServicePush(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	app := &cli{}
	cfg := writeTestConfig(t, "", fmt.Sprintf(`delivery:
  mail: {type: smtp, host: %q, port: %d, tls: none, from: "emfa <otp@example.com>", timeout: 5s}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, push]
    engine: builtin
    builtin:
      push: {lifetime: 2m, numberMatching: true}
selfService:
  enabled: true
  capabilities: [totp, push]
  publicURL: http://127.0.0.1:1
  mail: {sender: mail}
`, mail.Host(), mail.Port()))
	app.must(t, "users", "add", "alice", "--config", cfg)
	link := strings.TrimPrefix(strings.TrimSpace(app.must(t, "users", "invite", "alice", "--deliver=false", "--config", cfg)), "http://127.0.0.1:1")
	base, _, _ := app.serve(t, "--config", cfg)
	e := openTestEnv(t, cfg)
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	factors := func() []store.Factor {
		t.Helper()
		u, err := e.store.GetUser(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		fs, err := e.store.ListFactors(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	want := func(what string, p page, status int, title string) {
		t.Helper()
		if p.status != status || p.title != title {
			t.Fatalf("%s: %d %q, want %d %q\n%s", what, p.status, p.title, status, title, p.body)
		}
	}
	b := newSSBrowser(t, base)
	status := func(b *ssBrowser, path string, csrf string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out["state"]
	}

	want("open", b.get(link), 200, "Set up a sign-in method")
	p := b.post("/self-service/enroll", map[string][]string{"type": {"push"}})
	want("enroll push", p, 200, "Register your phone")
	m := activationRE.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) || !strings.Contains(p.body, `src="/self-service/static/poll.js"`) {
		t.Fatalf("no QR, code or script:\n%s", p.body)
	}
	if fs := factors(); len(fs) != 1 || fs[0].Type != "push" || fs[0].State != store.FactorPending {
		t.Fatalf("after enroll: %+v", fs)
	}
	if code, st := status(b, "/self-service/push/status", ""); code != 403 || st != "" {
		t.Fatalf("status without the CSRF header: %d %q", code, st)
	}
	if code, st := status(b, "/self-service/push/status", b.csrf); code != 200 || st != "pending" {
		t.Fatalf("status before registration: %d %q", code, st)
	}
	want("continue before registration", b.post("/self-service/push/continue", nil), 200, "Register your phone")

	state := filepath.Join(t.TempDir(), "device.json")
	app.must(t, "device", "register", "--server", base, "--code", m[1], "--state", state, "--name", "Pixel")
	if fs := factors(); len(fs) != 1 || fs[0].State != store.FactorActive || fs[0].Params["publicKey"] == "" {
		t.Fatalf("after registration: %+v", fs)
	}
	// The registration completed the enrollment and spent the link, before this page
	// looked: closed now, it would leave no link usable again.
	want("the link after the registration", newSSBrowser(t, base).get(link), 409, "This link cannot be used")
	if code, st := status(b, "/self-service/push/status", b.csrf); code != 200 || st != "active" {
		t.Fatalf("status after registration: %d %q", code, st)
	}
	want("continue", b.post("/self-service/push/continue", nil), 200, "You are all set")
	if p := newSSBrowser(t, base).get(link); p.title != "This link cannot be used" || !strings.Contains(p.body, "used already") {
		t.Fatalf("link not spent: %q\n%s", p.title, p.body)
	}

	// Sign-in: the page shows the number, the device approves with it.
	s := newSSBrowser(t, base)
	want("sign-in page", s.get("/self-service/"), 200, "Sign in")
	p = s.post("/self-service/signin", map[string][]string{"username": {"alice"}, "method": {"push"}})
	want("sign in with push", p, 200, "Approve on your phone")
	n := numberRE.FindStringSubmatch(p.body)
	if n == nil {
		t.Fatalf("no number:\n%s", p.body)
	}
	if code, st := status(s, "/self-service/signin/status", s.csrf); code != 200 || st != "pending" {
		t.Fatalf("sign-in status before approval: %d %q", code, st)
	}
	// Continue before the approval: back to the approval's address, which a reload shows
	// again without posting anything.
	noFollow := *s.c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.PostForm(base+"/self-service/signin/continue", url.Values{"csrf": {s.csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/self-service/signin/approve?pending=1" {
		t.Fatalf("continue before approval: %d to %q, want 303 to the approval", resp.StatusCode, loc)
	}
	for range 2 { // the page, and a reload of it
		p = s.get("/self-service/signin/approve?pending=1")
		want("continue before approval", p, 200, "Approve on your phone")
		if !strings.Contains(p.body, "Not approved yet") || !strings.Contains(p.body, n[1]) {
			t.Fatalf("the approval after an early continue: no notice or number %s:\n%s", n[1], p.body)
		}
	}
	var pending struct{ Challenges []struct{ ID string } }
	json.Unmarshal([]byte(app.must(t, "device", "pending", "--state", state)), &pending)
	if len(pending.Challenges) != 1 {
		t.Fatalf("pending: %+v", pending)
	}
	app.must(t, "device", "approve", pending.Challenges[0].ID, "--number", n[1], "--state", state)
	if code, st := status(s, "/self-service/signin/status", s.csrf); code != 200 || st != "success" {
		t.Fatalf("sign-in status after approval: %d %q", code, st)
	}
	p = s.post("/self-service/signin/continue", nil)
	want("signed in", p, 200, "Your sign-in methods")
	if !strings.Contains(p.body, "Pixel") {
		t.Fatalf("the device is not listed:\n%s", p.body)
	}
	if fs := factors(); len(fs) != 1 || fs[0].State != store.FactorActive {
		t.Fatalf("after sign-in: %+v", fs)
	}

	// Signed in, a second phone: its activation's answer sets the session cookie again,
	// unchanged, so that Chromium evicts the page that showed its activation code from
	// its back/forward cache (Back must not bring the code back; see
	// TestBackAfterAddingShowsNoKeyWithoutScript for the app's).
	p = s.post("/self-service/enroll", map[string][]string{"type": {"push"}})
	m = activationRE.FindStringSubmatch(p.body)
	if p.title != "Register your phone" || m == nil {
		t.Fatalf("a second phone: %d %q\n%s", p.status, p.title, p.body)
	}
	app.must(t, "device", "register", "--server", base, "--code", m[1], "--state", filepath.Join(t.TempDir(), "device2.json"), "--name", "Pixel 2")
	u, _ := url.Parse(base + "/self-service/")
	var cookie string
	for _, c := range s.c.Jar.Cookies(u) {
		if c.Name == "emfa_ss" {
			cookie = c.Value
		}
	}
	resp, err = noFollow.PostForm(base+"/self-service/push/continue", url.Values{"csrf": {s.csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var set *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "emfa_ss" {
			set = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == "" || set == nil || set.Value != cookie || !set.HttpOnly || set.MaxAge <= 0 {
		t.Fatalf("the second phone's activation: %d, cookie %q set again as %+v; want the same cookie set again", resp.StatusCode, cookie, set)
	}

	// A denied sign-in says so.
	d := newSSBrowser(t, base)
	d.get("/self-service/")
	d.post("/self-service/signin", map[string][]string{"username": {"alice"}, "method": {"push"}})
	json.Unmarshal([]byte(app.must(t, "device", "pending", "--state", state)), &pending)
	if len(pending.Challenges) != 1 {
		t.Fatalf("pending: %+v", pending)
	}
	app.must(t, "device", "deny", pending.Challenges[0].ID, "--state", state)
	// The sign-in form again, by its GET (post/redirect/get), saying why; a reload says
	// the same and posts nothing.
	const denied = "Sign-in denied: it was denied or canceled on your phone. Start again."
	p = d.post("/self-service/signin/continue", nil)
	want("denied", p, 200, "Sign in")
	if !strings.Contains(p.body, denied) || !strings.Contains(p.body, `id="username"`) {
		t.Fatalf("denied: the form without the reason:\n%s", p.body)
	}
	if p = d.get("/self-service/?ended=denied"); p.status != 200 || !strings.Contains(p.body, denied) {
		t.Fatalf("the denial reloaded: %d\n%s", p.status, p.body)
	}
}
