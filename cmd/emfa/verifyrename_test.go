package main

import (
	"os"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterRenamedProvider: a provider renamed in the configuration keeps its
// MFA provider (found by credentialPrefix) and so its webhook, the one that provider
// references: register updates it rather than creating a second webhook and leaving the
// first, with Verify's credentials toward emfa, behind.
func TestRegisterRenamedProvider(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	args := []string{"verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--url", "https://emfa.example.com", "--auth", "basic", "--allow-http"}
	emfa(t, args...) // the test fails (no such host); the objects are written
	if n := len(tenant.Webhooks()); n != 1 {
		t.Fatalf("first run: %d webhooks", n)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), "name: Built-in factors", "name: Authenticator apps", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, errOut := emfa(t, args...)
	hooks := tenant.Webhooks()
	if len(hooks) != 1 {
		t.Errorf("after a rename: %d webhooks, want 1 (writes %v)\n%s%s", len(hooks), tenant.Writes(), out, errOut)
	}
	for id, h := range hooks {
		for _, p := range tenant.Providers() {
			if p["webhookId"] != id || h["name"] != "Authenticator apps" {
				t.Errorf("provider %v, webhook %s %v", p, id, h["name"])
			}
		}
	}
}
