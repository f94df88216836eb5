package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A data directory emfa cannot make (EMFA_DATA_DIR naming a file, or under one) said
// only "data directory: mkdir F: not a directory", naming neither the variable that chose
// it nor what to do.
func TestDataDirUnusable(t *testing.T) {
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "sub")} {
		t.Setenv("EMFA_DATA_DIR", dir)
		code, _, errOut := emfa(t, "serve", "--print-secrets=false")
		if code != 1 {
			t.Fatalf("%s: exit %d\n%s", dir, code, errOut)
		}
		for _, want := range []string{dir, "EMFA_DATA_DIR", "a directory emfa's user may write"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: the refusal does not name %q:\n%s", dir, want, errOut)
			}
		}
	}
}
