package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/provider/builtin"
)

// TestSwitchedLinkLeavesNoTokenInHistory: a link opened in a browser signed in as
// someone else asks first; once the person continued, the link's token is in neither the
// address bar nor the history, as it is not after a link opened at once. Otherwise the
// next person at the same browser (a shared or help-desk computer) opens the still
// unspent link from the history and enrolls their own phone into that account.
func TestSwitchedLinkLeavesNoTokenInHistory(t *testing.T) {
	ctx := browser(t)
	mail := smtpfake.Start(t, smtpfake.Options{})
	app := &cli{}
	cfg := totpPageConfigMail(t, smtpMail(mail))
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, logs, _ := app.serve(t, "--config", cfg)
	admin := func(path, body string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := readAll(resp)
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	admin("/admin/v1/users", `{"name":"bob"}`)
	bobKey := regexp.MustCompile(`"secret":"([A-Z2-7]+)"`).FindStringSubmatch(admin("/admin/v1/users/bob/factors", `{"type":"totp","activation":"immediate"}`))
	if bobKey == nil {
		t.Fatal("bob's app: no secret")
	}
	admin("/admin/v1/users", `{"name":"carol"}`)
	m := regexp.MustCompile(`(/self-service/link/[A-Za-z0-9_-]{43})`).FindStringSubmatch(admin("/admin/v1/users/carol/activation-link", `{"deliver":false}`))
	if m == nil {
		t.Fatal("no link")
	}
	seed, err := builtin.DecodeSecret(bobKey[1])
	if err != nil {
		t.Fatal(err)
	}
	code := builtin.HOTP(builtin.SHA1, seed, uint64(builtin.TOTPStep(time.Now().Unix(), 30)), 6)

	run := browserSteps(t, ctx, logs)
	run("sign in bob", chromedp.Navigate(base+"/self-service/"), retry("no #username", chromedp.WaitVisible("#username")),
		chromedp.SendKeys("#username", "bob"), chromedp.Click("#m-app"), chromedp.Click("#next"),
		retry("no #code", chromedp.WaitVisible("#code")), chromedp.SendKeys("#code", code), chromedp.Click("#signin"),
		says("h1", "Your sign-in methods"))
	var landed string
	var history []*cdppage.NavigationEntry
	var current int64
	run("carol's link", chromedp.Navigate(base+m[1]), says("h1", "This link is for someone else"),
		chromedp.Click("#switch"), says("h1", "Set up a sign-in method"),
		chromedp.Location(&landed), chromedp.NavigationEntries(&current, &history))
	if strings.Contains(landed, "/link/") {
		t.Errorf("after the switch: at %s", landed)
	}
	for _, e := range history {
		if strings.Contains(e.URL, "/link/") {
			t.Errorf("the link's token stays in the history: %s", e.URL)
		}
	}
}
