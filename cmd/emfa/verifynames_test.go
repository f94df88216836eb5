package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterSharedName: register finds a provider's webhook by its name; two
// providers that share a name would share one webhook, the second run's PUT pointing the
// first provider's logins at the second's URL. register refuses them before any write.
func TestRegisterSharedName(t *testing.T) {
	cfg := writeTestConfig(t, "", `providers:
  - {name: Factors, credentialPrefix: one, capabilities: [totp], engine: builtin}
  - {name: Factors, credentialPrefix: two, capabilities: [totp], engine: builtin}
`)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--url", "https://emfa.example.com", "--auth", "basic", "--allow-http")
	hooks := map[string]bool{}
	for _, p := range tenant.Providers() {
		hooks[p["webhookId"].(string)] = true
	}
	if len(tenant.Providers()) == 2 && len(hooks) != 2 {
		t.Errorf("two providers share one webhook: %v", tenant.Providers())
	}
	if code != 2 || len(tenant.Writes()) != 0 || !strings.Contains(errOut, `"Factors"`) {
		t.Errorf("exit %d, writes %v, want 2 before any write naming the shared name\n%s%s", code, tenant.Writes(), out, errOut)
	}
	// Selecting one of them would still update the other's webhook, found by the name.
	if code, _, _ := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--url", "https://emfa.example.com", "--auth", "basic", "--allow-http", "--provider", "two"); code != 2 || len(tenant.Writes()) != 0 {
		t.Errorf("--provider two: exit %d, writes %v", code, tenant.Writes())
	}
}
