package main

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
)

// fullWriter is a stdout on a full disk: every write fails, as a redirect into a file on
// a full file system (or /dev/full) does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// A credential printed once whose printing failed (`emfa tokens create … > token.txt` on
// a full disk): the command said nothing on stdout, exited 0, and left a live token (or
// OAuth client) that nobody holds, so a script went on with an empty file. Now it exits
// 1, says the credential was not printed, and revokes it: no live credential nobody has.
func TestUnprintedCredentialRevoked(t *testing.T) {
	cfg := writeConfig(t, "")
	for _, tc := range []struct {
		kind string
		args []string
		list []string
	}{
		{"token", []string{"tokens", "create", "--name", "ci", "--scope", "write"}, []string{"tokens", "list"}},
		{"client", []string{"clients", "create", "--name", "verify"}, []string{"clients", "list"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), append(tc.args, "--config", cfg), (&cli{}).deps(fullWriter{}, &stderr))
			if code != 1 {
				t.Fatalf("%s on a full stdout: exit %d, want 1\n%s", strings.Join(tc.args, " "), code, &stderr)
			}
			if !strings.Contains(stderr.String(), "no space left on device") || !strings.Contains(stderr.String(), "revoked") {
				t.Errorf("stderr does not say the %s was not printed and is revoked:\n%s", tc.kind, &stderr)
			}
			out := mustEmfa(t, append(tc.list, "--config", cfg)...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || strings.HasSuffix(strings.TrimSpace(lines[1]), " -") {
				t.Errorf("the unprinted %s is still live:\n%s", tc.kind, out)
			}
		})
	}
}

// A factor whose output could not be written (`emfa factors add totp … > seed.json` on a
// full disk): the command exited 1 but left the factor active, its generated seed shown
// to nobody, so Verify offered alice a TOTP factor no app of hers holds, and running the
// command again added a second. Now the factor is deleted, and the message says so.
func TestUnprintedFactorDeleted(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"factors", "add", "totp", "--user", "alice", "--config", cfg}, (&cli{}).deps(fullWriter{}, &stderr))
	if code != 1 || !strings.Contains(stderr.String(), "no space left on device") || !strings.Contains(stderr.String(), "deleted") {
		t.Fatalf("factors add totp on a full stdout: exit %d, want 1 saying the factor is deleted\n%s", code, &stderr)
	}
	if out := mustEmfa(t, "factors", "list", "--user", "alice", "--json", "--config", cfg); strings.TrimSpace(out) != "" {
		t.Errorf("the factor whose seed nobody saw is still there:\n%s", out)
	}
}
