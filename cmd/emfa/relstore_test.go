package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A configuration whose storage.dsn is relative (file:data/emfa.db), used from another
// folder: `users add bob --config ../emfa.yaml` made a new, empty store under the
// working directory and said only "added user bob" (with, in JSON, the schema's
// migration), so the operator believed bob was in the store serve uses. It now says that
// it created a store and where, as serve does; and a reading command's refusal names the
// absolute path it looked at.
func TestRelativeStore(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "emfa.yaml")
	doc := "server:\n  auth:\n    basic: {username: verify, password: \"${EMFA_VERIFY_PASSWORD}\"}\n" +
		"storage:\n  dsn: \"file:data/emfa.db\"\n  encryptionKey: \"" + testEncryptionKey + "\"\n" +
		"providers:\n  - name: p\n    credentialPrefix: emfa\n    capabilities: [totp]\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(elsewhere)
	abs := filepath.Join(elsewhere, "data", "emfa.db")
	code, _, errOut := emfa(t, "users", "list", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, abs) {
		t.Errorf("users list: exit %d, want 1 naming %s:\n%s", code, abs, errOut)
	}
	code, _, errOut = emfa(t, "users", "add", "bob", "--config", cfg)
	if code != 0 {
		t.Fatalf("users add: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "created a new store at "+abs) {
		t.Errorf("users add made a new store without saying so:\n%s", errOut)
	}
	// The second time it is the store: nothing to say.
	if code, _, errOut = emfa(t, "users", "add", "carol", "--config", cfg); code != 0 || strings.Contains(errOut, "created a new store") {
		t.Errorf("second users add: exit %d\n%s", code, errOut)
	}
}
