package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Chromium keeps no-store pages in its back/forward cache while no cookie changes, and
// restores them on Back as they were. Signed in, a user who added an authenticator app
// (the set-up page shows its key and QR code) and confirmed it got the set-up page back on
// Back, key included, for whoever sits at the browser next, with the key of a factor in
// use. Two guards: page.js asks the server again for any page restored so (every browser
// running scripts), and the activation sets the session cookie again, which makes Chromium
// evict the page (even with scripts off).
//
// The tests read the page without timing: a pageshow listener the test adds after the
// page's own hears the restore (so the page's has run when it fires), else the page is
// one loaded anew.

// TestBackAfterAddingShowsNoKey: sign in, add an app, confirm it, Back: no key.
func TestBackAfterAddingShowsNoKey(t *testing.T) {
	b := signedInForBack(t, false)
	key := b.addApp()
	b.run("confirm", chromedp.SendKeys("#code", totpNow(t, key)), chromedp.Click("#confirm"), says("h1", "Your sign-in methods"))
	b.back(`history.back()`, key)
}

// TestBackAfterAddingShowsNoKeyWithoutScript: the same without page.js (the
// browser blocks it, as one with JavaScript off runs none): the activation's answer set
// the session cookie again, so Chromium did not keep the set-up page, and Back loads it
// anew; the server shows no key. This leans on Chromium's own rule (an HttpOnly cookie
// changed); page.js is the guard every browser running scripts honours.
func TestBackAfterAddingShowsNoKeyWithoutScript(t *testing.T) {
	b := signedInForBack(t, true)
	key := b.addApp()
	b.run("confirm", chromedp.SendKeys("#code", totpNow(t, key)), chromedp.Click("#confirm"), says("h1", "Your sign-in methods"))
	if restored := b.back(`history.back()`, key); restored {
		t.Errorf("without page.js, Back restored the set-up page from the back/forward cache: the activation changed no cookie")
	}
}

// TestRestoredSetUpPageIsAskedAgain: page.js at work where no cookie changed.
// The user leaves the set-up page for the list, removes the app not set up, and goes back
// two pages: Chromium restores the set-up page, a key of nothing; page.js empties it and
// asks the server, which shows the list.
func TestRestoredSetUpPageIsAskedAgain(t *testing.T) {
	b := signedInForBack(t, false)
	key := b.addApp()
	b.run("the list", chromedp.Navigate(b.base+"/self-service/"), says("h1", "Your sign-in methods"),
		chromedp.Evaluate(`[...document.querySelectorAll("tbody tr")].find(r => r.textContent.includes("Not set up yet")).querySelector('button[aria-label^="Remove"]').click(); true`, nil),
		says("#notice", "Removed"))
	if restored := b.back(`history.go(-2)`, key); !restored {
		t.Errorf("the set-up page was not restored from the back/forward cache: this test no longer shows page.js at work")
	}
}

type backTest struct {
	t    *testing.T
	base string
	run  func(what string, actions ...chromedp.Action)
}

// signedInForBack serves the page, signs alice in with her app in a browser (page.js
// blocked when noScript) and leaves her on the list of her sign-in methods.
func signedInForBack(t *testing.T, noScript bool) *backTest {
	var before func(run func(string, ...chromedp.Action))
	if noScript {
		before = func(run func(string, ...chromedp.Action)) {
			run("block page.js", network.Enable(), network.SetBlockedURLs([]string{"*/self-service/static/page.js"}))
		}
	}
	base, run := aliceSignedIn(t, before)
	return &backTest{t: t, base: base, run: run}
}

// addApp starts adding an app from the list and returns the key its set-up page shows;
// the set-up page's document is marked, and listened to for its restore.
func (b *backTest) addApp() (key string) {
	b.t.Helper()
	b.run("add an app", chromedp.Click("#add"), retry("no #enroll", chromedp.WaitVisible("#enroll")), chromedp.Click("#enroll"),
		retry("no #secret", chromedp.WaitVisible("#secret")), chromedp.Text("#secret", &key),
		chromedp.Evaluate(`window.emfaSetUp = true; addEventListener("pageshow", function (e) { if (e.persisted) { window.emfaRestored = true; } }); true`, nil))
	if key == "" {
		b.t.Fatal("no key on the set-up page")
	}
	return key
}

// back runs the history step js from the list back to the set-up page, and fails the
// test if the page then shows key or the set-up, as restored or as loaded anew; it
// reports whether the browser restored the set-up page.
func (b *backTest) back(js, key string) (restored bool) {
	t := b.t
	t.Helper()
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
			t.Errorf("Back to the set-up page, %s: %s, %q, the key shown %v, QR %v; want no set-up page",
				when, got.URL, got.H1, strings.Contains(got.Body, key) || got.Secret, got.QR)
		}
	}
	b.run("back", chromedp.Evaluate(`window.emfaDone = true; `+js+`; true`, nil),
		poll("Back neither restored the set-up page nor loaded a page", func(ctx context.Context) bool {
			return chromedp.Evaluate(read, &got).Do(ctx) == nil && (got.Restored || (got.Fresh && got.H1 != ""))
		}))
	t.Logf("restored from the back/forward cache: %v", got.Restored)
	restored = got.Restored
	if restored {
		if check("as restored"); t.Failed() {
			return restored // the set-up page kept: it will not be asked anew either
		}
		b.run("the page asked anew", poll("the restored page was not asked of the server again", func(ctx context.Context) bool {
			return chromedp.Evaluate(read, &got).Do(ctx) == nil && got.Fresh && got.H1 != ""
		}))
	}
	check("as loaded")
	return restored
}
