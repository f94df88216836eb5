package main

import (
	"strings"
	"testing"
)

// TestRegisterHelpSteersSecretsOffTheCommandLine: a secret given as a flag is
// in the process list (ps) and the shell's history. register's help showed
// --client-secret SECRET in its usage line and first example; it now shows the
// environment variables, and says why the flags are the second choice. export's help
// said the OAuth client's secret is printed when given; it never is (a placeholder).
func TestRegisterHelpSteersSecretsOffTheCommandLine(t *testing.T) {
	reg := mustEmfa(t, "verify", "register", "--help")
	if strings.Contains(reg, "--client-secret SECRET") || strings.Contains(reg, `--client-secret "$`) {
		t.Errorf("register's help shows the secret on the command line:\n%s", reg)
	}
	for _, want := range []string{"EMFA_VERIFY_CLIENT_SECRET=", "(ps)"} {
		if !strings.Contains(reg, want) {
			t.Errorf("register's help: no %q\n%s", want, reg)
		}
	}
	if exp := mustEmfa(t, "verify", "export", "--help"); strings.Contains(exp, "unless given") {
		t.Errorf("export's help says a secret given is printed:\n%s", exp)
	}
}
