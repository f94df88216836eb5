package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRegisterBoundsErrorBody: a tenant (or a proxy in front of it) that answers an
// API call with an error page rather than Verify's {messageId, messageDescription} has it
// quoted shortly, not copied whole (up to 4 MiB) to the terminal or a CI log.
func TestRegisterBoundsErrorBody(t *testing.T) {
	code, out, errOut := registerBehindGatewayPage(t, true)
	if code != 1 || !strings.Contains(errOut, "502") || len(out+errOut) > 2000 {
		t.Errorf("exit %d, %d bytes of output, want 1 naming 502 in a few lines\n%.600s", code, len(out+errOut), errOut)
	}
}

// registerBehindGatewayPage runs `emfa verify register` against a tenant that answers with a
// proxy's 502 page of some 128 KB: every call when tokens is false, every call but the token
// endpoint's when it is true.
func registerBehindGatewayPage(t *testing.T, tokens bool) (code int, out, errOut string) {
	t.Helper()
	page := "<html><body>" + strings.Repeat("gateway trouble ", 8000) + "</body></html>"
	tenant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tokens && strings.HasSuffix(r.URL.Path, "/token") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":7200}`))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(tenant.Close)
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	return emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--url", "https://emfa.example.com", "--auth", "basic", "--allow-http")
}
