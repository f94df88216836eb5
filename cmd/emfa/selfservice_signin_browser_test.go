package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/twiliofake"
)

// TestSelfServiceBrowserSignInTypo: in a real browser, a texted code mistyped at sign-in
// shows the code form again, saying so and how many tries are left, and sends nothing;
// the code the user holds then signs in. Its tries used up, the page says to request a
// new code, and its button sends one, which signs in.
func TestSelfServiceBrowserSignInTypo(t *testing.T) {
	ctx := browser(t)
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
      smsotp: {sender: sms, template: "Your code is {{code}}", maxAttempts: 2}
      sendLimits: {perUser: [], perDestination: []}
selfService:
  enabled: true
  capabilities: [totp, smsotp]
  publicURL: http://127.0.0.1:1
  mail: {sender: mail, subject: "Set up MFA"}
`, mail.Host(), mail.Port(), twilioSID, twilioToken, twilioFrom, sms.URL()))
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, logs, _ := app.serve(t, "--config", cfg)
	admin := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, readAll(resp))
		}
	}
	admin("/admin/v1/users", `{"name":"alice"}`)
	admin("/admin/v1/users/alice/factors", fmt.Sprintf(`{"type":"smsotp","activation":"immediate","params":{"phone":%q}}`, alicePhone))

	run := browserSteps(t, ctx, logs)
	// code waits for the n-th text message and reads its code.
	code := func(n int) string {
		t.Helper()
		for deadline := time.Now().Add(browserStep); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if msgs := sms.Messages(); len(msgs) >= n {
				if c := regexp.MustCompile(`\d{6}`).FindString(msgs[n-1].Body); c != "" {
					return c
				}
				t.Fatalf("no code in %q", msgs[n-1].Body)
			}
		}
		t.Fatalf("no text message %d", n)
		return ""
	}
	wrong := func(right string) string {
		if right == "000000" {
			return "111111"
		}
		return "000000"
	}

	run("start", chromedp.Navigate(base+"/self-service/"), retry("no #username", chromedp.WaitVisible("#username")),
		chromedp.SendKeys("#username", "alice"), chromedp.Click("#m-smsotp"), chromedp.Click("#next"),
		retry("no #code", chromedp.WaitVisible("#code")))
	right := code(1)
	// A reload shows the step again (post/redirect/get): it sends no second code, and
	// types no code again, so the tries left stay.
	run("reload the code form", chromedp.Reload(), retry("no #code", chromedp.WaitVisible("#code")))
	run("typo", chromedp.SendKeys("#code", wrong(right)), chromedp.Click("#signin"),
		says("#error", "That code is not right. Try again. 1 try left."), retry("no #code", chromedp.WaitVisible("#code")))
	run("reload after the typo", chromedp.Reload(), retry("no #code", chromedp.WaitVisible("#code")),
		says("#error", "That code is not right. Try again. 1 try left."))
	if n := len(sms.Messages()); n != 1 {
		t.Fatalf("%d text messages after a reload and a typo, want the one code only", n)
	}
	run("right code", chromedp.SendKeys("#code", right), chromedp.Click("#signin"), says("h1", "Your sign-in methods"))

	// Another sign-in: every try used up, then a new code. (Five codes checked in all: the
	// user name's page budget.)
	run("sign out", chromedp.Click(`form[action="/self-service/signout"] button`), retry("no #username", chromedp.WaitVisible("#username")),
		chromedp.SendKeys("#username", "alice"), chromedp.Click("#m-smsotp"), chromedp.Click("#next"),
		retry("no #code", chromedp.WaitVisible("#code")))
	right = code(2)
	run("typo again", chromedp.SendKeys("#code", wrong(right)), chromedp.Click("#signin"),
		says("#error", "That code is not right. Try again. 1 try left."), retry("no #code", chromedp.WaitVisible("#code")))
	run("last typo", chromedp.SendKeys("#code", wrong(right)), chromedp.Click("#signin"),
		says("#error", "That code can no longer be used: it was mistyped too many times, or it expired. Request a new code."))
	// As a typo: the form by its GET, so a reload posts no code again and sends none.
	run("reload the spent code", chromedp.Reload(),
		says("#error", "That code can no longer be used: it was mistyped too many times, or it expired. Request a new code."))
	if n := len(sms.Messages()); n != 2 {
		t.Fatalf("%d text messages after a spent code and a reload, want the two codes only", n)
	}
	run("new code requested",
		chromedp.Click("#resend"), says("#notice", "A new code is on its way, if this account has such a sign-in method."),
		retry("no #code", chromedp.WaitVisible("#code")))
	run("new code", chromedp.SendKeys("#code", code(3)), chromedp.Click("#signin"), says("h1", "Your sign-in methods"))
}
