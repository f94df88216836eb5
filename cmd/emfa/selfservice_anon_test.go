package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
)

// TestSelfServiceFormAnotherProcess: the sign-in form's session is not stored but signed
// (lifecycle.NewSession), with a key every replica derives from storage.encryptionKey: a
// form served by one process is taken by another (a replica behind the balancer, or this
// one restarted), not refused as stale.
func TestSelfServiceFormAnotherProcess(t *testing.T) {
	app := &cli{}
	mail := smtpfake.Start(t, smtpfake.Options{})
	cfg := totpPageConfigMail(t, smtpMail(mail))
	base, _, stop := app.serve(t, "--config", cfg)
	resp, err := http.Get(base + "/self-service/")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "emfa_ss" {
			cookie = c
		}
	}
	if m == nil || cookie == nil {
		t.Fatalf("the form: cookie %v\n%s", cookie, body)
	}
	stop()

	base, _, _ = app.serve(t, "--config", cfg)
	form := url.Values{"csrf": {m[1]}, "username": {"alice"}, "method": {"app"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/self-service/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/self-service/signin/code" {
		t.Fatalf("the form posted to another process: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The sign-in under way is in the cookie the answer set: its page shows the code form.
	req, _ = http.NewRequest(http.MethodGet, base+"/self-service/signin/code", nil)
	for _, c := range resp.Cookies() {
		if c.Name == cookie.Name {
			req.AddCookie(c)
		}
	}
	if resp, err = noFollow.Do(req); err != nil {
		t.Fatal(err)
	}
	if body := readAll(resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Enter your code") {
		t.Fatalf("the sign-in's page from another process: %d\n%s", resp.StatusCode, body)
	}
}
