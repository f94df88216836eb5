package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A tenant that takes the connection and never answers fails register with an error
// naming the call, rather than hang it (a CI job) for ever: at the token request, and at
// a configuration call once the token is had.
func TestVerifyRegisterTenantThatNeverAnswers(t *testing.T) {
	was := verifyCallTimeout
	verifyCallTimeout = 300 * time.Millisecond
	t.Cleanup(func() { verifyCallTimeout = was })
	t.Setenv("EMFA_VERIFY_PASSWORD", "a-verify-password-0123456789")
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	cfg := writeConfig(t, "")
	for _, hangAt := range []string{"/v1.0/endpoint/default/token", "/config/v1.0/webhooks"} {
		done := make(chan struct{})
		tenant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == hangAt {
				select {
				case <-r.Context().Done():
				case <-done:
				}
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/config/v1.0/mfaproviders" {
				w.Write([]byte(`{"mfaproviders":[]}`))
				return
			}
			w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600}`))
		}))
		result := make(chan string, 1)
		go func() {
			code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
				"--url", "https://emfa.example.com", "--auth", "basic", "--allow-http")
			result <- strings.Join([]string{string(rune('0' + code)), out, errOut}, "\n")
		}()
		select {
		case got := <-result:
			if !strings.HasPrefix(got, "1\n") || !strings.Contains(got, "Timeout") && !strings.Contains(got, "deadline") {
				t.Errorf("hanging at %s: %s, want exit 1 naming the timeout", hangAt, got)
			}
		case <-time.After(time.Minute):
			t.Errorf("hanging at %s: register still waits after a minute", hangAt)
		}
		close(done)
		tenant.Close()
	}
}
