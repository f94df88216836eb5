package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A data directory whose store exists but whose encryption.key is gone (deleted, not
// restored with the database, or the store made with EMFA_ENCRYPTION_KEY, now unset):
// serve generated a new key, kept it, told the operator to BACK IT UP, then refused the
// store sealed with the old one ("nothing was changed") — leaving the useless key behind,
// so that every later start used it. It now refuses before generating anything and says
// what to restore.
func TestLostKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("EMFA_DATA_DIR", dir)
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	mustEmfa(t, "users", "add", "alice", "--init")
	mustEmfa(t, "factors", "add", "totp", "--user", "alice")
	key := filepath.Join(dir, "encryption.key")
	if _, err := os.Stat(key); !os.IsNotExist(err) {
		t.Fatalf("the key came from the environment, yet %s: %v", key, err)
	}
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	// Without --init, a store command named the key alone and told the operator to pass
	// --init to generate one, which the command then refused as above.
	for _, args := range [][]string{{"serve", "--print-secrets=false"}, {"users", "list", "--init"}, {"users", "list"}} {
		code, _, errOut := emfa(t, args...)
		if code != 1 {
			t.Fatalf("%q: exit %d\n%s", args, code, errOut)
		}
		for _, want := range []string{key, "EMFA_ENCRYPTION_KEY", filepath.Join(dir, "emfa.db")} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%q: the refusal does not name %q:\n%s", args, want, errOut)
			}
		}
		if strings.Contains(errOut, "pass --init") {
			t.Errorf("%q: the refusal suggests --init, which is refused too:\n%s", args, errOut)
		}
		if strings.Contains(errOut, "BACK IT UP") {
			t.Errorf("%q: a key generated for a store it cannot open:\n%s", args, errOut)
		}
		if _, err := os.Stat(key); !os.IsNotExist(err) {
			t.Fatalf("%q left a new key at %s: %v", args, key, err)
		}
	}
}
