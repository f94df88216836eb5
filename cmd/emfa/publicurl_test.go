package main

import (
	"strings"
	"testing"
)

// TestVerifyExportRefusesPublicURLWithQuery: without --url, export writes
// selfService.publicURL into the webhook, and the resource suffixes follow it: a query
// (https://mfa.example.com/?x=1/v1/providers/emfa), a fragment or credentials would
// replace the tenant's working URL with one Verify cannot call. It is refused as a --url
// of that shape is, without repeating it.
func TestVerifyExportRefusesPublicURLWithQuery(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_SERVER_LISTEN", "0.0.0.0:8080")
	for _, pub := range []string{"https://mfa.example.com/?x=1", "https://mfa.example.com/#top", "https://admin:pw@mfa.example.com"} {
		t.Setenv("EMFA_SELFSERVICE_PUBLICURL", pub)
		code, out, errOut := emfa(t, "verify", "export", "--config", cfg)
		if code != 2 || out != "" || !strings.Contains(errOut, "selfService.publicURL") || strings.Contains(errOut, "pw@") {
			t.Errorf("publicURL %s: exit %d, %q %q; want 2 naming selfService.publicURL", pub, code, out, errOut)
		}
	}
}
