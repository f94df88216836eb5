package main

import (
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestLongNamesKeepThePageNarrow: in a real browser on a phone's width, a long
// user name (an e-mail-style name, as directories often use, with no hyphen to break at)
// wraps in the page's sentences ("Hello …."), rather than widen the page past the screen.
func TestLongNamesKeepThePageNarrow(t *testing.T) {
	ctx := browser(t)
	app := &cli{}
	cfg := totpPageConfig(t)
	base, logs, _ := app.serve(t, "--config", cfg)
	user := "firstname.lastname.department.team@subsidiary.examplecorporation.com"
	app.must(t, "users", "add", user, "--config", cfg)
	out := app.must(t, "users", "invite", user, "--deliver=false", "--config", cfg)
	link := regexp.MustCompile(`/self-service/link/[A-Za-z0-9_-]{43}`).FindString(out)
	if link == "" {
		t.Fatalf("no link: %s", out)
	}
	run := browserSteps(t, ctx, logs)
	var width struct{ Page, Screen int }
	run("the link", chromedp.Navigate(base+link), retry("no #enroll", chromedp.WaitVisible("#enroll")),
		chromedp.Evaluate(`({Page: document.documentElement.scrollWidth, Screen: document.documentElement.clientWidth})`, &width))
	if width.Page > width.Screen {
		t.Errorf("the choice page of %s is %d px wide on a screen of %d px", user, width.Page, width.Screen)
	}
}
