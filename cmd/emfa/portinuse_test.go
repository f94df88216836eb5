package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// A port another process holds: serve said only `listen tcp 127.0.0.1:8080: bind: address
// already in use`, naming neither the key nor what to do; the admin listener's named its
// key but not the variable. Each now names the key, its variable and the remedy.
func TestPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	for _, c := range []struct{ key, env string }{
		{"server.listen", "EMFA_SERVER_LISTEN"},
		{"admin.listen", "EMFA_ADMIN_LISTEN"},
	} {
		t.Run(c.key, func(t *testing.T) {
			t.Setenv("EMFA_DATA_DIR", filepath.Join(t.TempDir(), "data"))
			t.Setenv("EMFA_SERVER_LISTEN", "127.0.0.1:0")
			t.Setenv(c.env, addr)
			code, _, errOut := emfa(t, "serve", "--print-secrets=false")
			if code != 1 {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			for _, want := range []string{c.key, c.env, addr, "in use", "free port"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("the refusal does not name %q:\n%s", want, errOut)
				}
			}
		})
	}
}
