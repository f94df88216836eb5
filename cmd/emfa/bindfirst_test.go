package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A port another process holds: serve refused, but only after it had made its store and,
// from the embedded default, its data directory with a generated password (printed) and
// encryption key. The operator who then moved to a free port found a store and secrets
// from the failed start, and a password printed for a serve that never ran. serve now
// binds its listeners before it creates anything: the refusal leaves nothing behind.
func TestServeBindsBeforeItCreates(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	for _, c := range []struct{ name, env string }{
		{"server.listen", "EMFA_SERVER_LISTEN"},
		{"admin.listen", "EMFA_ADMIN_LISTEN"},
	} {
		t.Run("embedded default "+c.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			t.Setenv("EMFA_DATA_DIR", data)
			t.Setenv("EMFA_SERVER_LISTEN", "127.0.0.1:0")
			t.Setenv(c.env, addr)
			code, _, errOut := emfa(t, "serve")
			if code != 1 || !strings.Contains(errOut, "in use") {
				t.Fatalf("exit %d, want 1 and the port in use:\n%s", code, errOut)
			}
			if strings.Contains(errOut, "generated") {
				t.Errorf("secrets generated (and a password printed) for a serve that never ran:\n%s", errOut)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				entries, _ := os.ReadDir(data)
				t.Errorf("the data directory was left behind (%v): %v", err, entries)
			}
		})
		t.Run("--config "+c.name, func(t *testing.T) {
			path := writeConfig(t, "")
			db := filepath.Join(filepath.Dir(path), "emfa.db")
			t.Setenv(c.env, addr)
			code, _, errOut := emfa(t, "serve", "--config", path)
			if code != 1 || !strings.Contains(errOut, "in use") {
				t.Fatalf("exit %d, want 1 and the port in use:\n%s", code, errOut)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("a new store was left behind at %s (%v)", db, err)
			}
		})
	}
}
