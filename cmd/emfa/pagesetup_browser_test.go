package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/emfa/emfa/internal/smtpfake"
)

// totpPageConfig writes the configuration of the browser tests' self-service page:
// TOTP alone, its mail logged.
func totpPageConfig(t *testing.T) string {
	t.Helper()
	return totpPageConfigMail(t, "{type: log}")
}

// totpPageConfigMail is totpPageConfig with mail, a YAML flow mapping, as its mail sender
// (smtpMail's, say).
func totpPageConfigMail(t *testing.T, mail string) string {
	t.Helper()
	return writeTestConfig(t, "", `delivery:
  mail: `+mail+`
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
}

// smtpMail is the mail sender of m, a YAML flow mapping for totpPageConfigMail.
func smtpMail(m *smtpfake.Server) string {
	return fmt.Sprintf(`{type: smtp, host: %q, port: %d, tls: none, from: "emfa <otp@example.com>", timeout: 5s}`, m.Host(), m.Port())
}

// aliceSignedIn serves totpPageConfig, gives alice an active app through the admin API,
// and signs her in with it in a browser, leaving her on the list of her sign-in methods:
// the page's base URL and the browser's steps. before, when not nil, runs in the browser
// first (blocking page.js, say).
func aliceSignedIn(t *testing.T, before func(run func(string, ...chromedp.Action))) (string, func(string, ...chromedp.Action)) {
	t.Helper()
	ctx := browser(t)
	app := &cli{}
	cfg := totpPageConfig(t)
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
	if before != nil {
		before(run)
	}
	run("sign in", chromedp.Navigate(base+"/self-service/"), retry("no #username", chromedp.WaitVisible("#username")),
		chromedp.SendKeys("#username", "alice"), chromedp.Click("#next"), retry("no #code", chromedp.WaitVisible("#code")),
		chromedp.SendKeys("#code", totpNow(t, secret)), chromedp.Click("#signin"), says("h1", "Your sign-in methods"))
	return base, run
}
