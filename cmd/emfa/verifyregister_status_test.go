package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterExplainsRefusals: an API client the tenant gives a token but not
// the right to manage webhooks or MFA providers gets 403 on the first call; a create
// that meets an object register did not find gets 409. register printed the bare status
// and Verify's message id; it now says what to do: grant the permission, or look for
// the object in the tenant. Exit 1 either way.
func TestRegisterExplainsRefusals(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	for _, tc := range []struct {
		method, path string
		status       int
		want         []string
	}{
		{http.MethodGet, "/config/v1.0/mfaproviders", http.StatusForbidden, []string{"403", "permission", "MFA providers"}},
		{http.MethodPost, "/config/v1.0/webhooks", http.StatusConflict, []string{"409", "exists", "Built-in factors"}},
	} {
		tenant := verifyfake.New("api-client", "api-secret")
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == tc.method && r.URL.Path == tc.path {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"messageId":"CSIAH0999E","messageDescription":"refused"}`))
				return
			}
			tenant.Config.Handler.ServeHTTP(w, r)
		}))
		code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", front.URL, "--client-id", "api-client",
			"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
		if code != 1 {
			t.Errorf("%d on %s %s: exit %d, want 1", tc.status, tc.method, tc.path, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%d on %s %s: no %q in\n%s%s", tc.status, tc.method, tc.path, w, out, errOut)
			}
		}
		front.Close()
		tenant.Close()
	}
}
