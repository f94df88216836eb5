package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRegisterRefusesTenantPath: a --tenant copied from the browser with the
// admin console's path (https://acme.verify.ibm.com/ui/admin/) had the API paths appended
// to it, so the token request went to …/ui/admin/v1.0/endpoint/default/token, where the
// console's page answers and oauth2 reports "server response missing access_token". The
// tenant's APIs are at its root: a path is refused as such, exit 2, before anything is
// sent; a trailing slash alone is kept.
func TestRegisterRefusesTenantPath(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	var calls atomic.Int32
	console := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><title>IBM Verify</title></html>"))
	}))
	defer console.Close()
	for _, p := range []string{"/ui/admin/", "/ui", "/v1.0/endpoint/default/token"} {
		code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", console.URL+p, "--client-id", "api-client",
			"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
		if code != 2 || !strings.Contains(errOut, "--tenant") || !strings.Contains(errOut, "path") {
			t.Errorf("--tenant …%s: exit %d, want 2 naming --tenant's path\n%s%s", p, code, out, errOut)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d calls made to a --tenant with a path", n)
	}
	// A trailing slash alone is the tenant's root.
	code, _, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", console.URL+"/", "--client-id", "api-client",
		"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
	if code != 1 || strings.Contains(errOut, "path") {
		t.Errorf("--tenant …/: exit %d, want 1 from the token request\n%s", code, errOut)
	}
}
