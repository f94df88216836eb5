package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// A --url Verify cannot call as a webhook's base (no scheme, a query the resource
// suffixes would follow, credentials in it) is refused before the tenant is changed:
// before, register replaced the tenant's working webhook URL with it, and only the
// webhook test that followed failed.
func TestVerifyRegisterRefusesMalformedURL(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	for _, bad := range []string{"emfa.example.com", "emfa.example.com:8443", "https://emfa.example.com?x=1", "https://u:p@emfa.example.com", "ftp://emfa.example.com", "https://"} {
		code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
			"--auth", "basic", "--allow-http", "--url", bad)
		if code != 2 || !strings.Contains(errOut, "--url") {
			t.Errorf("--url %s: exit %d, want 2 naming --url\n%s%s", bad, code, out, errOut)
		}
		if strings.Contains(errOut, "u:p@") {
			t.Errorf("--url %s: the refusal repeats its credentials: %s", bad, errOut)
		}
		if code, out, _ := emfa(t, "verify", "export", "--config", cfg, "--auth", "basic", "--url", bad); code != 2 {
			t.Errorf("export --url %s: exit %d, want 2\n%s", bad, code, out)
		}
	}
	if w := tenant.Writes(); len(w) != 0 {
		t.Errorf("the tenant was changed: %v", w)
	}
}
