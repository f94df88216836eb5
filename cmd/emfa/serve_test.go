package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesBuiltinSectionBeforeStore: a builtin provider's section that does not
// decode is refused by serve as emfa check refuses it, with its file and line, and leaves
// no database behind: an existing one is not opened (none migrated), a new one removed.
func TestServeRefusesBuiltinSectionBeforeStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0", auth: {basic: {username: v, password: verify-password-0123}}}
storage: {dsn: "file:%s/data/emfa.db", encryptionKey: %q}
providers:
  - name: B
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
    builtin:
      totp: {digits: 99}
`, dir, testEncryptionKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := emfa(t, "serve", "--config", path)
	if code != 1 {
		t.Errorf("serve with a broken builtin section: exit %d\n%s", code, errOut)
	}
	if want := path + ":9: providers[0].builtin.totp.digits: must be 6 or 8"; !strings.Contains(errOut, want) {
		t.Errorf("serve's output lacks %q:\n%s", want, errOut)
	}
	// A new database is made while the configuration is checked (start-up), and removed
	// with the folder serve made for it when the configuration is refused.
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve refusing a broken builtin section left a database or its folder behind (%v)", err)
	}
}
