package main

import (
	"strings"
	"testing"
)

// TestExportRefusesEmptyUniqueName: --unique-name-attribute "" (an unset
// variable in a script) was exported, and registered, as an MFA provider whose
// uniqueNameAttribute is empty: Verify then has no user attribute to send emfa as the
// username. It is refused, exit 2, naming the flag.
func TestExportRefusesEmptyUniqueName(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	for _, v := range []string{"", "  "} {
		code, out, errOut := emfa(t, "verify", "export", "--config", cfg, "--auth", "basic", "--url", "https://emfa.example.com", "--unique-name-attribute", v)
		if code != 2 || !strings.Contains(errOut, "--unique-name-attribute") {
			t.Errorf("--unique-name-attribute %q: exit %d, want 2 naming it\n%s%s", v, code, out, errOut)
		}
	}
}
