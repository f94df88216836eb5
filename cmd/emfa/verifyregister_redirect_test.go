package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterFollowsNoRedirect: a tenant (or something in front of it) that
// redirects a call to another host does not get the API client's secret (the token
// request's body, resent on a 307) nor the tenant's bearer token (set again by the OAuth
// transport on the redirected request) carried there; and a PUT redirected on the same
// host (a 301, which Go turns into a GET that answers 200) is not reported "updated"
// while nothing changed. Each is an error naming the redirect, exit 1.
func TestRegisterFollowsNoRedirect(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret-c45")
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization")+" body="+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":7200,"webhooks":[],"mfaproviders":[]}`))
	}))
	defer other.Close()
	for _, tc := range []struct {
		name     string
		redirect func(r *http.Request) (string, int)
	}{
		{"token to another host", func(r *http.Request) (string, int) {
			if strings.HasSuffix(r.URL.Path, "/token") {
				return other.URL + r.URL.Path, http.StatusTemporaryRedirect
			}
			return "", 0
		}},
		{"api call to another host", func(r *http.Request) (string, int) {
			if r.URL.Path == "/config/v1.0/mfaproviders" {
				return other.URL + r.URL.Path, http.StatusFound
			}
			return "", 0
		}},
		{"PUT on the same host", func(r *http.Request) (string, int) {
			if r.Method == http.MethodPut {
				return "/config/v1.0/webhooks", http.StatusMovedPermanently
			}
			return "", 0
		}},
	} {
		tenant := verifyfake.New("api-client", "api-secret-c45")
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if to, code := tc.redirect(r); code != 0 {
				http.Redirect(w, r, to, code)
				return
			}
			tenant.Config.Handler.ServeHTTP(w, r)
		}))
		args := []string{"verify", "register", "--config", cfg, "--tenant", front.URL, "--client-id", "api-client",
			"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com"}
		if tc.name == "PUT on the same host" {
			// a first run creates the webhook; a second, with another URL, must PUT it.
			mustEmfaAllowingTestFailure(t, args...)
			args[len(args)-1] = "https://emfa2.example.com"
		}
		code, out, errOut := emfa(t, args...)
		if code != 1 || !strings.Contains(errOut, "redirect") || strings.Contains(out, "updated") {
			t.Errorf("%s: exit %d, want 1 naming the redirect, nothing said updated\n%s%s", tc.name, code, out, errOut)
		}
		mu.Lock()
		for _, s := range seen {
			if strings.Contains(s, "api-secret-c45") || strings.Contains(s, "tenant-token") {
				t.Errorf("%s: the other host got a secret: %s", tc.name, s)
			}
		}
		seen = nil
		mu.Unlock()
		front.Close()
		tenant.Close()
	}
}

// mustEmfaAllowingTestFailure runs register, which may fail only at the webhook's test
// (no emfa behind the URL).
func mustEmfaAllowingTestFailure(t *testing.T, args ...string) {
	t.Helper()
	code, out, errOut := emfa(t, args...)
	if code != 0 && !strings.Contains(errOut, "webhook test failed") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
