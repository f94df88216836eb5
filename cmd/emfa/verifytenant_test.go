package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterRefusesMalformedTenant: a --tenant that is not a tenant's base URL
// (no scheme, a path or query the API paths would follow, credentials in it) is refused
// as such, naming --tenant and never repeating the credentials, before anything is sent.
func TestRegisterRefusesMalformedTenant(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	host := strings.TrimPrefix(tenant.URL, "http://")
	for _, bad := range []string{host, "http://u:tenant-pw@" + host, tenant.URL + "?x=1", tenant.URL + "#top", "ftp://" + host} {
		code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", bad, "--client-id", "api-client",
			"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
		if code != 2 || !strings.Contains(errOut, "--tenant") {
			t.Errorf("--tenant %s: exit %d, want 2 naming --tenant\n%s%s", bad, code, out, errOut)
		}
		if strings.Contains(out+errOut, "tenant-pw") {
			t.Errorf("--tenant %s: its credentials repeated: %s%s", bad, out, errOut)
		}
	}
	if w := tenant.Writes(); len(w) != 0 {
		t.Errorf("the tenant was changed: %v", w)
	}
}
