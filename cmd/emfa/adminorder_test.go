package main

import (
	"context"
	"regexp"
	"testing"

	"github.com/emfa/emfa/store/sqlite"
)

// TestCLIChangesOrderedWithDirectorySync: with a directory source enabled and no vendor
// to propagate to, a user change made with the CLI still sets the ordering marks an
// admin API change sets, so that a directory's event older than it, delivered late, does
// not undo it.
func TestCLIChangesOrderedWithDirectorySync(t *testing.T) {
	cfg := writeTestConfig(t, "", `providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
sync:
  okta:
    enabled: true
    secretHeader: {name: X-Emfa-Hook-Secret, value: "okta-hook-secret-0123456789abcdef0123"}
`)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	mustEmfa(t, "users", "disable", "alice", "--config", cfg)
	dsn := regexp.MustCompile(`dsn: "([^"]+)"`).FindStringSubmatch(mustRead(t, cfg))[1]
	st, err := sqlite.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, key := range []string{"user:alice", "user:alice/state"} {
		if m, err := st.KeyMark(context.Background(), key); err != nil || m.IsZero() {
			t.Errorf("mark %s = %v, %v; want the CLI change's time", key, m, err)
		}
	}
}
