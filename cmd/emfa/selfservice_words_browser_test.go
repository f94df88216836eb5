package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/emfa/emfa/internal/twiliofake"
)

// browserBlockingCookies is browser (selfservice_browser_test.go) with a profile that
// refuses cookies from localhost, as a person's browser set to block cookies does, and
// takes them from 127.0.0.1: one browser tries the page both ways.
func browserBlockingCookies(t *testing.T) context.Context {
	t.Helper()
	return browserWith(t, `{"profile":{"content_settings":{"exceptions":{"cookies":{"http://localhost:*,*":{"setting":2}}}}}}`)
}

// TestSelfServiceBrowserForPeople: what a person meets in a real browser. One that blocks
// cookies is told so, at sign-in and at a link, rather than "your session has ended"; a
// phone number typed without its country comes back in the form, kept, focused and
// marked invalid; typed as people write it with its country, it is texted.
func TestSelfServiceBrowserForPeople(t *testing.T) {
	ctx := browserBlockingCookies(t)
	sms := twiliofake.New(t, twiliofake.Options{AccountSID: twilioSID, AuthToken: twilioToken})
	app := &cli{}
	cfg := writeTestConfig(t, "", fmt.Sprintf(`delivery:
  sms: {type: twilio, accountSid: %q, authToken: %q, from: %q, baseURL: %q, timeout: 5s}
  mail: {type: log}
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
  mail: {sender: mail}
`, twilioSID, twilioToken, twilioFrom, sms.URL()))
	base, logs, _ := app.serve(t, "--config", cfg)
	blocking := strings.Replace(base, "127.0.0.1", "localhost", 1)
	link := func(user string) string {
		t.Helper()
		app.must(t, "users", "add", user, "--config", cfg)
		out := app.must(t, "users", "invite", user, "--deliver=false", "--config", cfg)
		m := regexp.MustCompile(`/self-service/link/[A-Za-z0-9_-]{43}`).FindString(out)
		if m == "" {
			t.Fatalf("no link: %s", out)
		}
		return m
	}
	run := browserSteps(t, ctx, logs)
	heading := func(want string) chromedp.Action {
		return poll(fmt.Sprintf("no h1 %q", want), func(ctx context.Context) bool {
			var got string
			return chromedp.Evaluate(`(document.querySelector("h1")||{}).textContent||""`, &got).Do(ctx) == nil && got == want
		})
	}
	// Navigate and wait for the load; no step here depends on a lost load event.
	visit := func(url string) chromedp.Action { return chromedp.Navigate(url) }

	run("sign in, cookies blocked", visit(blocking+"/self-service/"), retry("no #username", chromedp.WaitVisible("#username")),
		chromedp.SendKeys("#username", "alice"), chromedp.Click("#next"), heading("Your browser is blocking cookies"))
	run("a link, cookies blocked", visit(blocking+link("bob")), heading("Your browser is blocking cookies"))

	run("a link", visit(base+link("carol")), retry("no #enroll", chromedp.WaitVisible("#enroll")),
		chromedp.Click("#t-smsotp"), chromedp.SendKeys("#destination", "020 7946 0958"), chromedp.Click("#enroll"),
		retry("no #error", chromedp.WaitVisible("#error")))
	var field struct {
		Focused, Invalid, DescribedBy, Value string
		Checked                              bool
	}
	run("the form again", chromedp.Evaluate(`({Focused: document.activeElement.id, Invalid: document.querySelector("#destination").getAttribute("aria-invalid"),
		DescribedBy: document.querySelector("#destination").getAttribute("aria-describedby"), Value: document.querySelector("#destination").value,
		Checked: document.querySelector("#t-smsotp").checked})`, &field))
	if field.Focused != "destination" || field.Invalid != "true" || field.DescribedBy != "error" || field.Value != "020 7946 0958" || !field.Checked {
		t.Errorf("the refused number's form: %+v", field)
	}
	run("typed with its country", chromedp.SetValue("#destination", "+1 (555) 123-0123"), chromedp.Click("#enroll"),
		retry("no #code", chromedp.WaitVisible("#code")))
	var to []string
	for _, m := range sms.Messages() {
		to = append(to, m.To)
	}
	if len(to) != 1 || to[0] != alicePhone {
		t.Errorf("texted to %v, want %s alone", to, alicePhone)
	}
}
