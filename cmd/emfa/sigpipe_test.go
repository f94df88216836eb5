package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// `emfa tokens create … | vault kv put …` whose reader had exited (it refused its own
// arguments, or was killed) wrote the token into a closed pipe: the Go runtime ends a
// process writing to a broken stdout with SIGPIPE, so emfa died before it could revoke
// the token (C61 revoked it only where SIGPIPE was ignored), leaving a live write token
// nobody holds, exit status 141. The same held for clients create's secret and factors
// add's seed. Now the command that prints a secret once sees the broken pipe as a write
// error: exit 1, the credential revoked (the factor deleted).
func TestUnprintedCredentialOnClosedPipe(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	for _, c := range printedOnce() {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone
		cmd := selfCommand(t, append(c.args, "--config", cfg)...)
		cmd.Stdout = w
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		w.Close()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("emfa %s into a closed pipe: %v, want exit 1\n%s", strings.Join(c.args, " "), err, &stderr)
		}
		if !strings.Contains(stderr.String(), "broken pipe") {
			t.Errorf("emfa %s into a closed pipe: stderr does not say why:\n%s", strings.Join(c.args, " "), &stderr)
		}
		if out := mustEmfa(t, append(c.list, "--config", cfg)...); !c.gone(out) {
			t.Errorf("emfa %s into a closed pipe left its credential live:\n%s", strings.Join(c.args, " "), out)
		}
	}
}

// revokedRow: a list whose one row is revoked (its REVOKED column not "-").
func revokedRow(out string) bool {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return len(lines) == 2 && !strings.HasSuffix(strings.TrimSpace(lines[1]), " -")
}

// printedOnceCommand is a command that prints a secret once (args), the command that lists
// what it made (list), and how that list shows it undone (gone).
type printedOnceCommand struct {
	args, list []string
	gone       func(string) bool
}

// printedOnce are the commands whose printing failed is undone: a token and a client
// revoked, a factor deleted (for user alice).
func printedOnce() []printedOnceCommand {
	return []printedOnceCommand{
		{[]string{"tokens", "create", "--name", "ci", "--scope", "write"}, []string{"tokens", "list"}, revokedRow},
		{[]string{"clients", "create", "--name", "verify"}, []string{"clients", "list"}, revokedRow},
		{[]string{"factors", "add", "totp", "--user", "alice"}, []string{"factors", "list", "--user", "alice", "--json"},
			func(out string) bool { return strings.TrimSpace(out) == "" }},
	}
}
