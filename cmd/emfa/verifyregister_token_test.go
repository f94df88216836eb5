package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterFetchesTokenOnce: register asks the tenant for one token per run
// and uses it for every call; it fetched a first one to check the API client, threw it
// away and fetched a second for the calls, doubling the token requests (and a tenant's
// token audit trail) of every run.
func TestRegisterFetchesTokenOnce(t *testing.T) {
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

// TestRegisterBoundsTokenErrorBody: a token endpoint that fails with a page
// rather than an OAuth error (a proxy's 502, a --tenant copied with the admin UI's path
// answering 404) is quoted shortly, naming the status, as API calls' errors are; the
// oauth2 error repeated the whole answer, up to 1 MiB, into the terminal or a CI log.
func TestRegisterBoundsTokenErrorBody(t *testing.T) {
	code, out, errOut := registerBehindGatewayPage(t, false)
	if code != 1 || !strings.Contains(errOut, "502") || !strings.Contains(errOut, "gateway trouble") || len(out+errOut) > 2000 {
		t.Errorf("exit %d, %d bytes of output, want 1 naming 502 in a few lines\n%.600s", code, len(out+errOut), errOut)
	}
}
