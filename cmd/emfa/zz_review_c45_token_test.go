package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestReviewC45RegisterFetchesTokenOnce: register asks the tenant for one token per run
// and uses it for every call; it fetched a first one to check the API client, threw it
// away and fetched a second for the calls, doubling the token requests (and a tenant's
// token audit trail) of every run.
func TestReviewC45RegisterFetchesTokenOnce(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
	if !strings.Contains(out, "created") || (code != 0 && !strings.Contains(errOut, "webhook test failed")) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if n := tenant.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}
