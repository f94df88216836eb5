package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterTestFailedBody: emfa answers its test resource 200 with
// {"status":"FAILED"} when the provider cannot serve (verify-contract.md §8); register
// reports that test as failed, not "test ok" with exit 0.
func TestRegisterTestFailedBody(t *testing.T) {
	cfg := writeTestConfig(t, "", `providers:
  - name: Vendor
    credentialPrefix: vend
    engine: remote
    capabilities: [push]
    remote:
      urls: ["http://127.0.0.1:1"]
`)
	base, _ := startServe(t, cfg)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--url", base, "--auth", "basic", "--allow-http")
	if code != 1 || strings.Contains(out, "test ok") || !strings.Contains(out+errOut, "FAILED") {
		t.Errorf("a test answered FAILED: exit %d, want 1 naming FAILED\n%s%s", code, out, errOut)
	}
}
