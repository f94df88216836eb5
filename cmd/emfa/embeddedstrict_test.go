package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// emfa check --strict on the embedded default, before serve has made its secrets (a CI
// job, a fresh machine), answered
//
//	embedded default: line 9: server.auth.basic.password: environment variable EMFA_VERIFY_PASSWORD is not set
//	line 13: storage.encryptionKey: environment variable EMFA_ENCRYPTION_KEY is not set
//
// lines of a file the operator never sees, the second problem named by no source at all,
// and not a word of the data directory where serve keeps the secrets it generates. Each
// problem now names the embedded default and its data directory, and a generated secret
// that is missing says where serve keeps it.
func TestEmbeddedDefaultProblemsSayWhere(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	t.Setenv("EMFA_DATA_DIR", data)
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	code, _, errOut := emfa(t, "check", "--strict")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, errOut)
	}
	var problems []string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.Contains(l, "is not set") {
			problems = append(problems, strings.TrimSpace(l))
		}
	}
	if len(problems) != 2 {
		t.Fatalf("%d problems of unset secrets, want 2:\n%s", len(problems), errOut)
	}
	for i, file := range []string{"verify-password", "encryption.key"} {
		p := problems[i]
		if !strings.HasPrefix(p, "embedded default (data in "+data+"): ") {
			t.Errorf("the problem does not start with the embedded default and its data directory: %s", p)
		}
		if strings.Contains(p, "line ") {
			t.Errorf("the problem names a line of the embedded default: %s", p)
		}
		if !strings.Contains(p, filepath.Join(data, file)) || !strings.Contains(p, "serve generates") {
			t.Errorf("the problem does not say serve keeps the secret in %s: %s", file, p)
		}
	}
}
