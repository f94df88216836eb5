package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider/builtin"
)

// TestResyncDisabledCLI: `emfa factors resync` of a disabled HOTP factor
// exits 1 saying it is disabled and what to do, never the store's words; enabled again,
// the same codes resynchronise the token.
func TestResyncDisabledCLI(t *testing.T) {
	cfg := writeTestConfig(t, "", `providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [hotp]
    engine: builtin
`)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	seed := []byte("12345678901234567890")
	var added map[string]any
	out := mustEmfa(t, "factors", "add", "hotp", "--user", "alice", "--secret", builtin.EncodeSecret(seed), "--counter", "0", "--config", cfg)
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatalf("factors add: %s: %v", out, err)
	}
	id := added["id"].(string)
	mustEmfa(t, "factors", "disable", id, "--config", cfg)
	code := func(c uint64) string { return builtin.HOTP(builtin.SHA1, seed, c, 6) }
	rc, stdout, stderr := emfa(t, "factors", "resync", id, code(500), code(501), "--config", cfg)
	if rc != 1 || !strings.Contains(stderr, "disabled") || !strings.Contains(stderr, "enable it") || strings.Contains(stderr, "sqlite") {
		t.Errorf("resync of a disabled factor: exit %d, stdout %q, stderr %q; want 1 saying it is disabled", rc, stdout, stderr)
	}
	mustEmfa(t, "factors", "enable", id, "--config", cfg)
	if out := mustEmfa(t, "factors", "resync", id, code(500), code(501), "--config", cfg); !strings.Contains(out, "next counter is 502") {
		t.Errorf("resync once enabled: %s", out)
	}
}
