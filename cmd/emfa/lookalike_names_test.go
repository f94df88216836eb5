package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestUsersAddRefusesLookAlikeNames: `emfa users add` refuses a name holding an invisible
// or bidirectional control character, or not in NFC, as a usage error naming the code
// point and its position (escaped, so that the terminal shows it), and creates no user.
func TestUsersAddRefusesLookAlikeNames(t *testing.T) {
	cfg := writeTestConfig(t, "", `providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
`)
	for name, want := range map[string]string{
		"alice\u200b": `username "alice\u200b": holds an invisible character, U+200B, at character 6`,
		"eve\u202e":   `username "eve\u202e": holds a bidirectional control, U+202E, at character 4`,
		"jose\u0301":  "username " + strconv.Quote("jose\u0301") + ": is not in Unicode normalization form C (NFC): at character 4, U+0065 U+0301 is U+00E9 in NFC; send the name as \"jos\u00e9\"",
	} {
		code, _, stderr := emfa(t, "users", "add", name, "--config", cfg)
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("users add %q: exit %d, stderr %q, want 2 and %q", name, code, stderr, want)
		}
	}
	if out := mustEmfa(t, "users", "list", "--config", cfg); strings.Contains(out, "alice") || strings.Contains(out, "jos") {
		t.Errorf("users list after the refusals:\n%s", out)
	}
}
