package main

import (
	"strings"
	"testing"
)

// export prints every secret as a placeholder, the OAuth client's too: an environment
// that holds $EMFA_OAUTH_CLIENT_SECRET for register (a CI job) printed it into a file
// meant to be pasted, committed or attached to a ticket.
func TestVerifyExportPrintsNoClientSecret(t *testing.T) {
	cfg := oauthConfig(t)
	t.Setenv("EMFA_OAUTH_CLIENT_SECRET", "env-secret-value")
	for _, args := range [][]string{nil, {"--oauth-client-id", "verify", "--oauth-client-secret", "flag-secret-value"}} {
		out := mustEmfa(t, append([]string{"verify", "export", "--config", cfg, "--url", "https://emfa.example.com"}, args...)...)
		if strings.Contains(out, "secret-value") || !strings.Contains(out, `"{{emfa_oauth_client_secret}}"`) {
			t.Errorf("export %v shows the client secret, or no placeholder:\n%s", args, out)
		}
	}
}
