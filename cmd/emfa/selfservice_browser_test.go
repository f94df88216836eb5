package main

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/twiliofake"
	"github.com/emfa/emfa/provider/builtin"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium for the test, or skips (fails under CI) without it.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserWith(t, "")
}

// browserWith is browser with prefs (JSON) as its profile's Preferences, when not empty.
func browserWith(t *testing.T, prefs string) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s is missing: install it (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("browser tests need %s (apt-get install -y chromium)", chromiumPath)
	}
	// Not t.TempDir: Chromium may still write its profile as the test ends, and a
	// cleanup that cannot empty the folder fails the test. Removed after the browser.
	profile, err := os.MkdirTemp("", "emfa-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })
	if prefs != "" {
		if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), []byte(prefs), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(profile), chromedp.WindowSize(420, 900),
		// chromedp waits 20 s for the DevTools address Chromium prints as it starts; under
		// `.ci/run`'s -race on two cores it took longer once ("websocket url timeout
		// reached"). The watchdog below bounds the start instead.
		chromedp.WSURLReadTimeout(2 * time.Minute)}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first Run starts Chromium, and the context it is given bounds the browser's
	// whole life: so no deadline on it, only a watchdog. Each step then gets its own
	// deadline (browserStep), so a machine loaded by the rest of the suite slows the test
	// without failing it, and a step that hangs still fails, by name.
	started := make(chan error, 1)
	go func() { started <- chromedp.Run(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", chromiumPath, err)
		}
	case <-time.After(2 * time.Minute):
		cancel2()
		t.Fatalf("%s did not start in 2 minutes", chromiumPath)
	}
	return ctx
}

// browserStep is how long one step of a browser test may take. Generous: under
// `go test -race ./...` on two cores, Chromium shares the machine with every other
// package's tests, and a step that takes 0.3 s alone has taken many seconds.
const browserStep = time.Minute

// browserAttempt bounds one DevTools call inside a step. A step is many calls, and on
// a loaded machine one of them has gone unanswered: the page was right (a dump taken
// just after showed it) but the step waited out its minute. Idempotent calls (reading
// the page, waiting for an element) therefore run under this shorter deadline and are
// retried, so one lost answer costs seconds, not the step.
const browserAttempt = 10 * time.Second

// browserSteps runs a browser test's steps, each under its own deadline (browserStep); a
// step that fails ends the test with the page and the server's log.
func browserSteps(t *testing.T, ctx context.Context, logs fmt.Stringer) func(what string, actions ...chromedp.Action) {
	return func(what string, actions ...chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, browserStep)
		defer cancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			var html string
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = chromedp.Run(dctx, chromedp.OuterHTML("html", &html, chromedp.ByQuery))
			t.Fatalf("%s: %v\npage:\n%s\nserver log:\n%s", what, err, html, logs)
		}
	}
}

// says waits until the element sel (by evaluation, see browserAttempt) says want.
func says(sel, want string) chromedp.Action {
	return poll(fmt.Sprintf("%s does not say %q", sel, want), func(ctx context.Context) bool {
		var got string
		js := fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)
		return chromedp.Evaluate(js, &got).Do(ctx) == nil && strings.TrimSpace(got) == want
	})
}

// poll evaluates a condition in the page every 100 ms, each evaluation under its own
// browserAttempt deadline, until it holds or the step's deadline passes; what names it
// in the error.
func poll(what string, cond func(ctx context.Context) bool) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			actx, cancel := context.WithTimeout(ctx, browserAttempt)
			ok := cond(actx)
			cancel()
			if ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %w", what, ctx.Err())
			case <-tick.C:
			}
		}
	})
}

// retry runs an idempotent action (WaitVisible, Text) under a browserAttempt deadline,
// again until it succeeds or the step's deadline passes. Never for a click or keys.
func retry(what string, a chromedp.Action) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var last error
		err := poll(what, func(ctx context.Context) bool {
			last = a.Do(ctx)
			return last == nil
		}).Do(ctx)
		if err != nil && last != nil {
			return fmt.Errorf("%w (last attempt: %v)", err, last)
		}
		return err
	})
}

// shots is where screenshots go: $EMFA_SCREENSHOTS, else the test's temporary folder.
func shots(t *testing.T) string {
	if d := os.Getenv("EMFA_SCREENSHOTS"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	return t.TempDir()
}

func TestSelfServiceBrowser(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	mail := smtpfake.Start(t, smtpfake.Options{})
	sms := twiliofake.New(t, twiliofake.Options{AccountSID: twilioSID, AuthToken: twilioToken})
	app := &cli{}
	cfg := writeTestConfig(t, "", fmt.Sprintf(`delivery:
  mail: {type: smtp, host: %q, port: %d, tls: none, from: "emfa <otp@example.com>", timeout: 5s}
  sms: {type: twilio, accountSid: %q, authToken: %q, from: %q, baseURL: %q, timeout: 5s}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, smsotp]
    engine: builtin
    builtin:
      smsotp: {sender: sms, template: "Your code is {{code}}"}
selfService:
  enabled: true
  capabilities: [totp, smsotp]
  publicURL: http://127.0.0.1:1
  mail: {sender: mail, subject: "Set up MFA, {{.DisplayName}}"}
`, mail.Host(), mail.Port(), twilioSID, twilioToken, twilioFrom, sms.URL()))
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, logs, _ := app.serve(t, "--config", cfg)
	admin := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, readAll(resp))
		return resp.StatusCode, b.String()
	}
	if code, body := admin("POST", "/admin/v1/users", `{"name":"alice","email":"alice@example.com","displayName":"Alice Liddell"}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := admin("POST", "/admin/v1/users/alice/activation-link", ``); code != 201 {
		t.Fatalf("link: %d %s", code, body)
	}
	msgs := mail.To("alice@example.com")
	if len(msgs) != 1 {
		t.Fatalf("%d mails", len(msgs))
	}
	raw := strings.ReplaceAll(strings.ReplaceAll(msgs[0].Data, "=\r\n", ""), "=3D", "=")
	m := regexp.MustCompile(`http://127\.0\.0\.1:1(/self-service/link/[A-Za-z0-9_-]{43})`).FindStringSubmatch(raw)
	if m == nil {
		t.Fatalf("no link in the mail:\n%s", raw)
	}
	link := base + m[1]
	// shot saves a screenshot. Straight after a navigation the new document may not be
	// laid out yet, and Chromium refuses a page of no width: that is waited out.
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var buf []byte
			var err error
			for {
				if err = chromedp.FullScreenshot(&buf, 100).Do(ctx); err == nil || !strings.Contains(err.Error(), "0 width") {
					break
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("%w (%w)", err, ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		})
	}
	// run runs one step under its own deadline and logs how long it took, so a failure
	// (or -v) shows where the time went.
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, browserStep)
		defer cancel()
		start := time.Now()
		err := chromedp.Run(sctx, actions...)
		t.Logf("step %q: %v", what, time.Since(start).Round(time.Millisecond))
		if err != nil {
			// What the browser shows and what the server logged say why.
			var url, html string
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = chromedp.Run(dctx, chromedp.Location(&url), chromedp.OuterHTML("html", &html, chromedp.ByQuery))
			t.Fatalf("%s: %v\npage %s:\n%s\nserver log:\n%s", what, err, url, html, logs)
		}
	}
	// waitNotice waits for the page that follows a form's redirect: its notice starts so.
	waitNotice := func(prefix string) chromedp.Action {
		return poll(fmt.Sprintf("no notice %q", prefix), func(ctx context.Context) bool {
			var got string
			return chromedp.Evaluate(`(document.querySelector("#notice")||{}).textContent||""`, &got).Do(ctx) == nil && strings.HasPrefix(got, prefix)
		})
	}
	// visit opens a URL and waits until the new document has loaded. Not chromedp.Navigate:
	// on a loaded machine it has missed the load event of a page that had arrived and
	// rendered, and waited out its deadline (a GET answered 200 in 21 ms, the sign-in page
	// on screen, the step failed a minute later). The old document is marked, so the wait
	// cannot mistake it for the new one even when both have the same title; every call is
	// a poll, so a lost answer is asked again, and the page navigates once (emfaGo).
	visit := func(url string) chromedp.Action {
		return chromedp.Tasks{
			poll("cannot mark the page before "+url, func(ctx context.Context) bool {
				return chromedp.Evaluate(`window.emfaOld = true`, nil).Do(ctx) == nil
			}),
			poll("no page at "+url, func(ctx context.Context) bool {
				var ready bool
				js := fmt.Sprintf(`window.emfaOld ? (window.emfaGo || (window.emfaGo = true, location.assign(%q)), false) : document.readyState === "complete"`, url)
				return chromedp.Evaluate(js, &ready).Do(ctx) == nil && ready
			}),
		}
	}
	// heading waits for the page's h1 (want, when not "") and reads it into title, by
	// evaluation rather than a DOM query (see browserAttempt).
	heading := func(title *string, want string) chromedp.Action {
		return poll(fmt.Sprintf("no h1 %q", want), func(ctx context.Context) bool {
			return chromedp.Evaluate(`(document.querySelector("h1")||{}).textContent||""`, title).Do(ctx) == nil &&
				*title != "" && (want == "" || *title == want)
		})
	}
	totpCode := func(secret string, ahead time.Duration) string {
		seed, err := builtin.DecodeSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		return builtin.HOTP(builtin.SHA1, seed, uint64(builtin.TOTPStep(time.Now().Add(ahead).Unix(), 30)), 6)
	}

	// The link: choose TOTP, read the key, type its code.
	var secret, title string
	// The link is clicked in webmail: a page of another site (localhost is not 127.0.0.1),
	// so the navigation is cross-site and the browser would keep a SameSite=Strict cookie off
	// its redirects. The session must still reach the next page.
	webmail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>Inbox</title><p><a id="mail-link" href="%s">Set up MFA</a></p><p><a id="home-link" href="%s">Your factors</a></p>`,
			html.EscapeString(link), html.EscapeString(base+"/self-service/"))
		if to := r.URL.Query().Get("to"); to != "" {
			fmt.Fprintf(w, `<p><a id="other-link" href="%s">Set up MFA (from someone else)</a></p>`, html.EscapeString(to))
		}
	}))
	t.Cleanup(webmail.Close)
	inbox := strings.Replace(webmail.URL, "127.0.0.1", "localhost", 1)
	var landed string
	var history []*cdppage.NavigationEntry
	var current int64
	run("enroll totp", visit(inbox), chromedp.Click("#mail-link"), chromedp.WaitVisible("#enroll"), shot("01-choose"),
		chromedp.Location(&landed), chromedp.NavigationEntries(&current, &history),
		chromedp.Click("#t-totp"), chromedp.Click("#enroll"), chromedp.WaitVisible("#secret"), shot("02-totp-qr"),
		chromedp.Text("#secret", &secret))
	// The token left the address bar and the history: back goes to the inbox.
	if landed != base+"/self-service/enroll" {
		t.Errorf("after the link: at %s", landed)
	}
	for _, e := range history {
		if strings.Contains(e.URL, "/link/") {
			t.Errorf("the link's token stays in the history: %s", e.URL)
		}
	}
	var qrWidth int
	run("qr", chromedp.Evaluate(`document.querySelector("img").naturalWidth`, &qrWidth))
	if qrWidth == 0 {
		t.Error("the QR code did not render (html/template refuses a data: URI typed as a string)")
	}
	run("confirm totp", chromedp.SendKeys("#code", totpCode(secret, 0)), chromedp.Click("#confirm"),
		heading(&title, "You are all set"), shot("03-done"))
	if title != "You are all set" {
		t.Fatalf("after confirming: %q", title)
	}
	// The link is spent.
	run("spent link", visit(link), heading(&title, ""), shot("04-spent"))
	if title != "This link cannot be used" {
		t.Errorf("spent link: %q", title)
	}
	// A forged link.
	run("forged link", visit(base+"/self-service/link/"+strings.Repeat("A", 43)), heading(&title, ""))
	if title != "This link cannot be used" {
		t.Errorf("forged link: %q", title)
	}

	// Sign in later with TOTP: the next step's code (within the window), so not a replay.
	run("sign in", visit(base+"/self-service/"), retry("no #username", chromedp.WaitVisible("#username")), shot("05-signin"),
		chromedp.SendKeys("#username", "alice"), chromedp.Click("#m-app"), chromedp.Click("#next"), chromedp.WaitVisible("#code"),
		chromedp.SendKeys("#code", totpCode(secret, 30*time.Second)), chromedp.Click("#signin"), chromedp.WaitVisible("#add"), shot("06-factors"))

	// A link to the page on another site (the inbox) neither signs the user out nor shows
	// the sign-in form: the top-level navigation carries the session cookie (SameSite=Lax).
	run("cross-site link", visit(inbox), chromedp.Click("#home-link"), heading(&title, ""))
	if title != "Your sign-in methods" {
		t.Errorf("after a link from another site: %q, want the factors page", title)
	}
	run("after the cross-site link", visit(base+"/self-service/"), heading(&title, ""))
	if title != "Your sign-in methods" {
		t.Fatalf("back on the page after a link from another site: %q, want still signed in", title)
	}

	// Add SMS: the code comes from the Twilio fake.
	run("add sms", chromedp.Click("#add"), chromedp.WaitVisible("#enroll"), chromedp.Click("#t-smsotp"),
		chromedp.SendKeys("#destination", alicePhone), chromedp.Click("#enroll"), chromedp.WaitVisible("#code"), shot("07-sms-sent"))
	// The page shows the code field once the sender has answered, so the message is
	// normally there already; the wait is for a loaded machine.
	var smsBody string
	for deadline := time.Now().Add(browserStep); smsBody == "" && time.Now().Before(deadline); {
		for _, m := range sms.Messages() {
			smsBody = m.Body
		}
		if smsBody == "" {
			time.Sleep(50 * time.Millisecond)
		}
	}
	code := regexp.MustCompile(`\d{6}`).FindString(smsBody)
	if code == "" {
		t.Fatalf("no SMS code: %q", smsBody)
	}
	var notice string
	run("confirm sms", chromedp.SendKeys("#code", code), chromedp.Click("#confirm"),
		waitNotice("Added"),
		chromedp.Text("#notice", &notice), shot("08-sms-added"))
	var rows int
	run("count", chromedp.Evaluate(`document.querySelectorAll("tbody tr").length`, &rows))
	if rows != 2 {
		t.Fatalf("%d factors listed after adding SMS", rows)
	}
	// Remove the SMS factor (the second row).
	run("remove", chromedp.Click(`tbody tr:nth-child(2) button[aria-label^="Remove"]`),
		waitNotice("Removed"),
		chromedp.Evaluate(`document.querySelectorAll("tbody tr").length`, &rows), shot("09-removed"))
	if rows != 1 {
		t.Fatalf("%d factors after removing", rows)
	}
	// The last active factor stays.
	run("remove last", visit(base+"/self-service/"), retry("no #add", chromedp.WaitVisible("#add")), chromedp.Click(`button[aria-label^="Remove"]`), heading(&title, "That did not work"), shot("10-last"))
	if title != "That did not work" {
		t.Errorf("removing the last factor: %q", title)
	}
	// Disabled while signed in: the next request is refused.
	if code, body := admin("POST", "/admin/v1/users/alice/disable", ``); code != 200 {
		t.Fatalf("disable: %d %s", code, body)
	}
	run("disabled", visit(base+"/self-service/"), heading(&title, ""))
	if title != "Sign in" {
		t.Errorf("after disabling: %q, want the sign-in page", title)
	}

	// Login CSRF: mallory sends bob, signed in, mallory's own activation link from another
	// site. The page asks rather than replacing bob's session: cancelling keeps it, and
	// only the page's own form switches (the browser's Sec-Fetch-Site: same-origin).
	if code, body := admin("POST", "/admin/v1/users", `{"name":"bob"}`); code != 201 {
		t.Fatalf("create bob: %d %s", code, body)
	}
	status, body := admin("POST", "/admin/v1/users/bob/factors", `{"type":"totp","activation":"immediate"}`)
	bobKey := regexp.MustCompile(`"secret":"([A-Z2-7]+)"`).FindStringSubmatch(body)
	if status != 201 || bobKey == nil {
		t.Fatalf("bob's app: %d %s", status, body)
	}
	if code, body := admin("POST", "/admin/v1/users", `{"name":"mallory"}`); code != 201 {
		t.Fatalf("create mallory: %d %s", code, body)
	}
	status, body = admin("POST", "/admin/v1/users/mallory/activation-link", `{"deliver":false}`)
	m = regexp.MustCompile(`http://127\.0\.0\.1:1(/self-service/link/[A-Za-z0-9_-]{43})`).FindStringSubmatch(body)
	if status != 201 || m == nil {
		t.Fatalf("mallory's link: %d %s", status, body)
	}
	trap := inbox + "/?to=" + url.QueryEscape(base+m[1])
	run("sign in bob", visit(base+"/self-service/"), retry("no #username", chromedp.WaitVisible("#username")),
		chromedp.SendKeys("#username", "bob"), chromedp.Click("#m-app"), chromedp.Click("#next"), chromedp.WaitVisible("#code"),
		chromedp.SendKeys("#code", totpCode(bobKey[1], 0)), chromedp.Click("#signin"), chromedp.WaitVisible("#add"))
	var text string
	run("another user's link", visit(trap), chromedp.Click("#other-link"), heading(&title, "This link is for someone else"),
		shot("11-someone-else"), chromedp.Text("main", &text))
	if !strings.Contains(text, "signed in as bob") || !strings.Contains(text, "for mallory") {
		t.Errorf("the question: %q", text)
	}
	run("cancel", chromedp.Click("#cancel"), heading(&title, "Your sign-in methods"), chromedp.Text("main", &text))
	if !strings.Contains(text, "Signed in as bob.") {
		t.Errorf("after cancelling: %q", text)
	}
	run("switch", visit(trap), chromedp.Click("#other-link"), heading(&title, "This link is for someone else"),
		chromedp.Click("#switch"), chromedp.WaitVisible("#enroll"), chromedp.Text("main", &text))
	if !strings.Contains(text, "Hello mallory.") {
		t.Errorf("after switching: %q", text)
	}
	t.Logf("screenshots in %s", dir)
}

func readAll(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
