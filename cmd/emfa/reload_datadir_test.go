package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadGeneratesNoSecret: on the embedded default, a reload after the data directory's
// secrets were removed (a volume wiped, a cleanup run too wide) generated new ones, as a
// first start does: a new Verify password, so Verify's next call was refused, and a new
// encryption key. A reload now creates nothing: it fails, naming the file, and the running
// password stays; with the whole directory gone, it says so.
func TestReloadGeneratesNoSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("EMFA_DATA_DIR", dir)
	t.Setenv("EMFA_SERVER_LISTEN", "127.0.0.1:0")
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	base, logs, reload := reloadingServe(t, "")
	pw := strings.TrimSpace(mustRead(t, filepath.Join(dir, "verify-password")))
	test := func() int { return testStatus(t, base, pw) }
	if code := test(); code != 200 {
		t.Fatalf("before: %d", code)
	}
	for _, f := range []string{"verify-password", "encryption.key"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := reload(); err == nil {
		t.Error("a reload without the data directory's secrets succeeded")
	}
	for _, f := range []string{"verify-password", "encryption.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("the reload generated %s: %v", f, err)
		}
	}
	if !strings.Contains(logs.String(), "a reload generates no secret") {
		t.Errorf("the log does not say why:\n%s", grepLines(logs.String(), "reload"))
	}
	if code := test(); code != 200 {
		t.Errorf("after the failed reload, Verify's password: %d", code)
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err == nil || !strings.Contains(err.Error(), "is gone: a reload creates none") {
		t.Errorf("a reload without the data directory: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the reload created the data directory: %v", err)
	}
}
