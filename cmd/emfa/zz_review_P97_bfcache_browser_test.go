package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestReviewP97BackAfterAddingShowsNoKey: signed in, a user adds an authenticator app (the
// set-up page shows its key and QR code), confirms it, and presses Back. Chromium keeps
// no-store pages in its back/forward cache while no cookie changes, and the signed-in
// session's cookie does not: it restored the set-up page, key and QR code included, for
// whoever sits at the browser next, with the key of a factor in use. The page now asks the
// server again when it is restored, and hides what it showed meanwhile.
//
// Deterministic, no timing: the test listens for the restore itself (a pageshow
// listener added after the page's own, so the page's has run when it fires), then reads
// the page; or, if the browser did not keep the page, reads the page loaded anew.
func TestReviewP97BackAfterAddingShowsNoKey(t *testing.T) {
	ctx := browser(t)
	app := &cli{}
	cfg := writeTestConfig(t, "", `delivery:
  mail: {type: log}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
selfService:
  enabled: true
  capabilities: [totp]
  publicURL: http://127.0.0.1:1
  mail: {sender: mail}
`)
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, logs, _ := app.serve(t, "--config", cfg)
	if code, out := adminDo(t, base, token, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out := adminDo(t, base, token, "POST", "/admin/v1/users/alice/factors", `{"type":"totp","activation":"immediate"}`)
	secret, _ := out["enrollment"].(map[string]any)["secret"].(string)
	if code != 201 || secret == "" {
		t.Fatalf("alice's app: %d %v", code, out)
	}
	run := browserSteps(t, ctx, logs)
	run("sign in", chromedp.Navigate(base+"/self-service/"), retry("no #username", chromedp.WaitVisible("#username")),
		chromedp.SendKeys("#username", "alice"), chromedp.Click("#next"), retry("no #code", chromedp.WaitVisible("#code")),
		chromedp.SendKeys("#code", totpNow(t, secret)), chromedp.Click("#signin"), says("h1", "Your sign-in methods"))
	var key, done string
	run("add an app", chromedp.Click("#add"), retry("no #enroll", chromedp.WaitVisible("#enroll")), chromedp.Click("#enroll"),
		retry("no #secret", chromedp.WaitVisible("#secret")), chromedp.Text("#secret", &key),
		// Marks this document, and hears it restored from the back/forward cache.
		chromedp.Evaluate(`window.emfaSetUp = true; addEventListener("pageshow", function (e) { if (e.persisted) { window.emfaRestored = true; } }); true`, nil))
	if key == "" {
		t.Fatal("no key on the set-up page")
	}
	run("confirm", chromedp.SendKeys("#code", totpNow(t, key)), chromedp.Click("#confirm"), says("h1", "Your sign-in methods"),
		chromedp.Location(&done))
	if !strings.Contains(done, "done=") {
		t.Fatalf("after confirming: at %s, want the list saying the app was added", done)
	}
	var got struct {
		Restored, Fresh bool
		URL, H1, Body   string
		Secret, QR      bool
	}
	const read = `({Restored: !!window.emfaRestored, Fresh: !window.emfaSetUp && !window.emfaDone, URL: location.href,
		H1: (document.querySelector("h1")||{}).textContent||"", Body: document.body ? document.body.innerText : "",
		Secret: !!document.querySelector("#secret"), QR: !!document.querySelector("img[src^='data:']")})`
	check := func(when string) {
		t.Helper()
		if strings.Contains(got.Body, key) || got.Secret || got.QR || got.H1 == "Confirm your new sign-in method" {
			t.Errorf("Back after adding an app, %s: %s, %q, the key shown %v, QR %v; want no set-up page",
				when, got.URL, got.H1, strings.Contains(got.Body, key) || got.Secret, got.QR)
		}
	}
	run("back", chromedp.Evaluate(`window.emfaDone = true; history.back(); true`, nil),
		poll("Back neither restored the set-up page nor loaded a page", func(ctx context.Context) bool {
			return chromedp.Evaluate(read, &got).Do(ctx) == nil && (got.Restored || (got.Fresh && got.H1 != ""))
		}))
	t.Logf("restored from the back/forward cache: %v", got.Restored)
	if got.Restored {
		if check("as restored"); t.Failed() {
			return // the set-up page kept: it will not be asked anew either
		}
		// Then the page the server answers now.
		run("the page asked anew", poll("the restored page was not asked of the server again", func(ctx context.Context) bool {
			return chromedp.Evaluate(read, &got).Do(ctx) == nil && got.Fresh && got.H1 != ""
		}))
	}
	check("as loaded")
}
