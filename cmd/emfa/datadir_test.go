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
	// A store command too: it named storage.dsn, which the operator had not set, and
	// "cannot create the database's folder" for a command that only reads (review F89).
	for _, args := range [][]string{{"serve", "--print-secrets=false"}, {"users", "list"}, {"users", "add", "alice", "--init"}} {
		for _, dir := range []string{file, filepath.Join(file, "sub")} {
			t.Setenv("EMFA_DATA_DIR", dir)
			code, _, errOut := emfa(t, args...)
			if code != 1 {
				t.Fatalf("%v %s: exit %d\n%s", args, dir, code, errOut)
			}
			for _, want := range []string{dir, "EMFA_DATA_DIR", "a directory emfa's user may write"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("%v %s: the refusal does not name %q:\n%s", args, dir, want, errOut)
				}
			}
		}
	}
}
