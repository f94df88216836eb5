package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A server.tls whose certificate is not there (a typo in its path, a volume not mounted)
// was refused by serve only after it had made and migrated a new store, and without the
// file's line that emfa check gives: `emfa serve: server.tls: stat /etc/emfa/tls.crt: no
// such file or directory`. serve now reads the TLS files, as check does, before the store
// is touched: the refusal names the line and leaves no database behind.
func TestServeReadsTLSBeforeTheStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "emfa.db")
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:0"
  tls: {cert: %q, key: %q}
  auth:
    basic: {username: verify, password: "sim-password-0123"}
storage:
  dsn: "file:%s"
  encryptionKey: %q
providers:
  - {name: b, credentialPrefix: emfa, capabilities: [totp], engine: builtin}
`, filepath.Join(dir, "no-such.crt"), filepath.Join(dir, "no-such.key"), db, testEncryptionKey)
	path := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := emfa(t, "serve", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if want := path + ":3: server.tls"; !strings.Contains(errOut, want) || !strings.Contains(errOut, "no-such.crt") {
		t.Errorf("the refusal does not say %q and the file:\n%s", want, errOut)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("a new store was left behind at %s (%v)", db, err)
	}
}
