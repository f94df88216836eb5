package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A flag given twice took its last value without a word: `emfa tokens create --name ci
// --scope read --scope write` (a wrapper's default, then the caller's) created a write
// token for a job meant to read, and two --secret values (totp code, factors add totp,
// verify register's client secrets, device register's activation code) used the second.
// Now a repeat of those is a usage error naming the flag, exit 2, nothing created, and a
// secret's values are not echoed.
func TestRepeatedFlagRefused(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	const s1, s2 = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	for _, c := range []struct {
		args   []string
		flag   string
		secret bool
	}{
		{[]string{"tokens", "create", "--name", "ci", "--scope", "read", "--scope", "write", "--config", cfg}, "--scope", false},
		{[]string{"tokens", "create", "--name", "ci", "--scope=read", "--scope=read", "--config", cfg}, "--scope", false},
		{[]string{"totp", "code", "--secret", s1, "--secret", s2}, "--secret", true},
		{[]string{"factors", "add", "totp", "--user", "alice", "--secret", s1, "--secret", s2, "--config", cfg}, "--secret", true},
		{[]string{"verify", "register", "--tenant", "https://acme.verify.ibm.com", "--client-id", "1", "--client-secret", s1, "--client-secret", s2,
			"--url", "https://emfa.example.com", "--config", cfg}, "--client-secret", true},
		{[]string{"verify", "export", "--auth", "oauth", "--oauth-client-id", "v", "--oauth-client-secret", s1, "--oauth-client-secret", s2,
			"--url", "https://emfa.example.com", "--config", cfg}, "--oauth-client-secret", true},
		{[]string{"device", "register", "--server", "http://127.0.0.1:1", "--code", s1, "--code", s2, "--state", filepath.Join(t.TempDir(), "d.json")}, "--code", true},
	} {
		code, out, errOut := emfa(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.flag) || !strings.Contains(errOut, "twice") {
			t.Errorf("emfa %s: exit %d, want 2 saying %s was given twice\nstdout: %s\nstderr: %s", strings.Join(c.args, " "), code, c.flag, out, errOut)
		}
		if c.secret && (strings.Contains(errOut, s1) || strings.Contains(errOut, s2)) {
			t.Errorf("emfa %s: the refusal echoes a secret:\n%s", strings.Join(c.args, " "), errOut)
		}
	}
	if out := mustEmfa(t, "tokens", "list", "--config", cfg); strings.Contains(out, "ci") {
		t.Errorf("a token was created:\n%s", out)
	}
	if out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg); strings.Contains(out, "totp") {
		t.Errorf("a factor was added:\n%s", out)
	}
	// Once, each is taken as before.
	mustEmfa(t, "tokens", "create", "--name", "ci", "--scope", "read", "--config", cfg)
	mustEmfa(t, "totp", "code", "--secret", s1)
	mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--secret", s1, "--config", cfg)
}
