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

// TestServePrintsSecrets: the first serve prints the generated Verify password whole, as
// the README shows, and names its file.
func TestServePrintsSecrets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("EMFA_DATA_DIR", dir)
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	t.Setenv("EMFA_SERVER_LISTEN", "127.0.0.1:0")
	_, logs, stop := startServeArgs(t)
	stop()
	pw, err := os.ReadFile(filepath.Join(dir, "verify-password"))
	if err != nil {
		t.Fatal(err)
	}
	want := "(Basic auth, user 'verify'): " + strings.TrimSpace(string(pw)) + " (kept in " + filepath.Join(dir, "verify-password") + ")"
	if !strings.Contains(logs.String(), want) {
		t.Errorf("first serve: want %q in\n%s", want, logs)
	}
}

// TestWorldReadableStoreWarns: emfa check and serve say when an existing SQLite file or
// its directory is readable by other users.
func TestWorldReadableStoreWarns(t *testing.T) {
	cfg := writeConfig(t, "")
	dir := filepath.Dir(cfg)
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mustEmfa(t, "users", "add", "alice", "--config", cfg) // creates the database, 0600
	if code, _, errOut := emfa(t, "check", "--config", cfg); code != 0 || strings.Contains(errOut, "readable by other users") {
		t.Fatalf("private files: %d %s", code, errOut)
	}
	if err := os.Chmod(filepath.Join(dir, "emfa.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := emfa(t, "check", "--config", cfg)
	if code != 0 || !strings.Contains(errOut, "warning: storage: "+filepath.Join(dir, "emfa.db")+" is readable by other users (mode 0644)") ||
		!strings.Contains(errOut, "the database's directory, is readable by other users (mode 0755)") {
		t.Errorf("check: %d %s", code, errOut)
	}
	_, logs, stop := startServeArgs(t, "--config", cfg)
	stop()
	if !strings.Contains(logs.String(), "storage: "+filepath.Join(dir, "emfa.db")+" is readable by other users") {
		t.Errorf("serve does not warn:\n%s", logs)
	}
}
