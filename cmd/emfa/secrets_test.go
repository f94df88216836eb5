package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServePrintSecretsFalse: the generated Verify password goes to stderr whole on the
// first start, unless serve is told --print-secrets=false; then only its file is named.
func TestServePrintSecretsFalse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("EMFA_DATA_DIR", dir)
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	t.Setenv("EMFA_SERVER_LISTEN", "127.0.0.1:0")
	_, logs, stop := startServeArgs(t, "--print-secrets=false")
	stop()
	pw, err := os.ReadFile(filepath.Join(dir, "verify-password"))
	if err != nil || len(strings.TrimSpace(string(pw))) < 16 {
		t.Fatalf("no generated password: %q %v", pw, err)
	}
	if out := logs.String(); strings.Contains(out, strings.TrimSpace(string(pw))) || !strings.Contains(out, filepath.Join(dir, "verify-password")) {
		t.Errorf("--print-secrets=false: want the file named and the password not printed:\n%s", out)
	}
}
