package main

import (
	"strings"
	"testing"
)

// TestReviewBadFlagValueIsUsageError: the README promises exit 2 for a usage error, and
// a value outside a flag's fixed set (--state, --scope, a factor type) is one, as
// import --format xml and audit --since yesterday already are: a script telling a typo
// (2) from a refusal of the data (1) got 1 for these, and nothing was opened for them.
func TestReviewBadFlagValueIsUsageError(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"users", "list", "--state", "bogus"}, `--state: must be active or disabled, not "bogus"`},
		{[]string{"users", "list", "--state", "bogus", "--json"}, `--state: must be active or disabled, not "bogus"`},
		{[]string{"tokens", "create", "--name", "ci", "--scope", "admin"}, `--scope: must be read, helpdesk or write, not "admin"`},
		{[]string{"tokens", "create", "--name", "ci"}, "tokens create needs --name NAME --scope"},
		{[]string{"factors", "add", "foo", "--user", "alice"}, `unknown factor type "foo"`},
		{[]string{"factors", "add", "foo"}, `unknown factor type "foo"`},
		{[]string{"audit", "--since", "yesterday"}, `--since: "yesterday"`},
	} {
		code, out, errOut := emfa(t, append(c.args, "--config", cfg)...)
		if code != 2 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "Usage:") || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, %q and the usage on stderr", c.args, code, out, errOut, c.want)
		}
	}
	if out := mustEmfa(t, "tokens", "list", "--config", cfg); strings.Count(out, "\n") != 1 {
		t.Errorf("a refused tokens create left a token:\n%s", out)
	}
}
