package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/verifyfake"
)

// fakeVerifyWait replaces register's wait before a retry with one that only records it.
func fakeVerifyWait(t *testing.T) *[]time.Duration {
	t.Helper()
	var mu sync.Mutex
	var waits []time.Duration
	was := verifyWait
	verifyWait = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}
	t.Cleanup(func() { verifyWait = was })
	return &waits
}

// TestRegisterWaitsOutRateLimit: a tenant that limits its API clients answers
// 429 with Retry-After; register waited for nothing and failed half-way (the webhook
// written, the provider not). It now waits the time the tenant asks, within a bound, and
// carries on; a tenant asking longer than that, or limiting still after a few tries, is
// an error naming the limit and the time asked, exit 1.
func TestRegisterWaitsOutRateLimit(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	for _, tc := range []struct {
		name       string
		retryAfter string
		times      int // 429s answered before the calls go through
		wantOK     bool
		wantWaits  []time.Duration
	}{
		{"once, 7 s", "7", 1, true, []time.Duration{7 * time.Second}},
		{"twice, no Retry-After", "", 2, true, []time.Duration{time.Second, time.Second}},
		{"an hour", "3600", 1, false, nil},
		{"for ever", "2", 100, false, []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second}},
	} {
		waits := fakeVerifyWait(t)
		tenant := verifyfake.New("api-client", "api-secret")
		var mu sync.Mutex
		limited := 0
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			limit := r.Method == http.MethodPost && r.URL.Path == "/config/v1.0/mfaproviders" && limited < tc.times
			if limit {
				limited++
			}
			mu.Unlock()
			if limit {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"messageId":"CSIAQ0429E","messageDescription":"too many requests"}`))
				return
			}
			tenant.Config.Handler.ServeHTTP(w, r)
		}))
		code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", front.URL, "--client-id", "api-client",
			"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
		created := strings.Contains(out, `mfa provider "emfa": created`)
		if tc.wantOK && (!created || (code != 0 && !strings.Contains(errOut, "webhook test failed"))) {
			t.Errorf("%s: exit %d, want the provider created after waiting\n%s%s", tc.name, code, out, errOut)
		}
		if !tc.wantOK && (code != 1 || created || !strings.Contains(errOut, "429") || !strings.Contains(errOut, tc.retryAfter+" s")) {
			t.Errorf("%s: exit %d, want 1 naming 429 and the %s s asked\n%s%s", tc.name, code, tc.retryAfter, out, errOut)
		}
		if len(*waits) != len(tc.wantWaits) || (len(tc.wantWaits) > 0 && (*waits)[0] != tc.wantWaits[0]) {
			t.Errorf("%s: waited %v, want %v", tc.name, *waits, tc.wantWaits)
		}
		if n := len(tenant.Providers()); tc.wantOK && n != 1 {
			t.Errorf("%s: %d providers in the tenant, want 1", tc.name, n)
		}
		front.Close()
		tenant.Close()
	}
}

// TestRegisterWaitsOutRateLimitedToken: the token request is rate-limited as
// the API calls are; a 429 there failed the run at once. It waits the Retry-After asked
// and tries again, as the API calls do.
func TestRegisterWaitsOutRateLimitedToken(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	waits := fakeVerifyWait(t)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	var mu sync.Mutex
	limited := false
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		limit := strings.HasSuffix(r.URL.Path, "/token") && !limited
		limited = limited || limit
		mu.Unlock()
		if limit {
			w.Header().Set("Retry-After", "5")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"messageId":"CSIAQ0429E","messageDescription":"too many requests"}`))
			return
		}
		tenant.Config.Handler.ServeHTTP(w, r)
	}))
	defer front.Close()
	code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", front.URL, "--client-id", "api-client",
		"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
	if !strings.Contains(out, `mfa provider "emfa": created`) || (code != 0 && !strings.Contains(errOut, "webhook test failed")) {
		t.Errorf("exit %d, want the provider created after waiting\n%s%s", code, out, errOut)
	}
	if len(*waits) != 1 || (*waits)[0] != 5*time.Second {
		t.Errorf("waited %v, want [5s]", *waits)
	}
}
