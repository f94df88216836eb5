package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A variable's name mistyped in the file (${EMFA_ENCRYPTON_KEY}, with EMFA_ENCRYPTION_KEY
// exported as the README says) was "environment variable EMFA_ENCRYPTON_KEY is not set":
// the operator, who had set it, looked at the shell, not at the file. The variable meant,
// when one that is set is a typo away, is named — never its value.
func TestVariableNameTypo(t *testing.T) {
	doc := "server:\n  auth:\n    basic: {username: verify, password: \"${EMFA_VERIFY_PASWORD}\"}\n" +
		"storage:\n  encryptionKey: \"${EMFA_ENCRYPTON_KEY}\"\n" +
		"providers:\n  - name: p\n    credentialPrefix: emfa\n    capabilities: [totp]\n"
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"EMFA_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "EMFA_VERIFY_PASSWORD": "a-long-enough-password-1"}
	opts := env(vars)
	opts.Environ = func() []string {
		return []string{"EMFA_ENCRYPTION_KEY=" + vars["EMFA_ENCRYPTION_KEY"], "EMFA_VERIFY_PASSWORD=" + vars["EMFA_VERIFY_PASSWORD"], "HOME=/root"}
	}
	_, err := Load(path, opts)
	if err == nil {
		t.Fatal("loaded with two variables unset")
	}
	for _, want := range []string{
		"storage.encryptionKey: environment variable EMFA_ENCRYPTON_KEY is not set (did you mean EMFA_ENCRYPTION_KEY, which is set?)",
		"server.auth.basic.password: environment variable EMFA_VERIFY_PASWORD is not set (did you mean EMFA_VERIFY_PASSWORD, which is set?)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	for _, v := range vars {
		if strings.Contains(err.Error(), v) {
			t.Errorf("the error shows a variable's value:\n%v", err)
		}
	}
}
