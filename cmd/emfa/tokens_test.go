package main

import (
	"strings"
	"testing"
)

// TestTokensHelpdesk: tokens create takes the helpdesk scope, and tokens list shows it.
func TestTokensHelpdesk(t *testing.T) {
	cfg := writeConfig(t, "")
	if tok := strings.TrimSpace(mustEmfa(t, "tokens", "create", "--name", "desk", "--scope", "helpdesk", "--config", cfg)); !strings.HasPrefix(tok, "emfa_at_") {
		t.Fatalf("tokens create printed %q", tok)
	}
	out := mustEmfa(t, "tokens", "list", "--config", cfg)
	if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) < 2 || f[0] != "desk" || f[1] != "helpdesk" {
		t.Errorf("tokens list:\n%s", out)
	}
}
