package adapter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// TestPageAnswersHEAD: a HEAD of the page's addresses (a link checker, a proxy's probe)
// answers as the GET does, headers and all, without a body; a wrong method's 405 lists
// HEAD with GET in its Allow.
func TestPageAnswersHEAD(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	srv := httptest.NewServer(h.srv.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, path := range []string{"/self-service", "/self-service/", "/self-service/style.css", "/self-service/static/poll.js",
		"/self-service/enroll", "/self-service/ready", "/self-service/signin"} {
		t.Run(path, func(t *testing.T) {
			get, _ := send(http.MethodGet, path)
			head, body := send(http.MethodHead, path)
			if head.StatusCode != get.StatusCode || body != "" {
				t.Errorf("HEAD: %d with %d bytes, want GET's %d without a body", head.StatusCode, len(body), get.StatusCode)
			}
			for _, k := range []string{"Content-Type", "Content-Security-Policy", "Cache-Control", "Location"} {
				if head.Header.Get(k) != get.Header.Get(k) {
					t.Errorf("HEAD's %s %q, GET's %q", k, head.Header.Get(k), get.Header.Get(k))
				}
			}
		})
	}
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/self-service/", "GET, HEAD"},
		{"DELETE", "/self-service/enroll", "GET, HEAD, POST"},
		{"POST", "/self-service/style.css", "GET, HEAD"},
	} {
		res, body := send(tc.method, tc.path)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != tc.allow || !strings.Contains(body, "cannot be opened that way") {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q and the page's message", tc.method, tc.path, res.StatusCode, res.Header.Get("Allow"), tc.allow)
		}
	}
}

// TestSignInTrimsTheUserName: a user name typed or pasted with spaces around it signs in
// as the name itself; before, it was a name no one has, and the right code failed.
func TestSignInTrimsTheUserName(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors", `{"type":"totp","activation":"immediate"}`)
	if code != 201 {
		t.Fatalf("enroll: %d %v", code, out)
	}
	secret, _ := out["enrollment"].(map[string]any)["secret"].(string)
	p := &pageBrowser{h: h}
	p.do(t, "GET", "/self-service/", nil)
	p.do(t, "POST", "/self-service/signin", url.Values{"username": {"  alice\t"}, "method": {"app"}})
	now, _ := totp.GenerateCode(secret, time.Now())
	if code := p.do(t, "POST", "/self-service/signin/code", url.Values{"code": {now}}); code != http.StatusSeeOther {
		t.Fatalf("sign in as %q: %d %s", "  alice\t", code, p.body)
	}
	if p.do(t, "GET", "/self-service/", nil); !strings.Contains(p.body, "Signed in as alice.") {
		t.Errorf("after signing in:\n%s", p.body)
	}
}
