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
func TestReviewC61UnprintedCredentialRevoked(t *testing.T) {
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
