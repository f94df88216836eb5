package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider/builtin"
)

// A store whose factors were sealed with a key the configuration does not have is refused
// at start-up, by serve and by the store commands alike, naming the missing key's id (never
// a key) and the way out; before, serve reported ready, every old factor answered 503 and
// new ones were sealed with the new key, mixing keys in one store. Listing the old key in
// previousEncryptionKeys (a rotation) opens it again.
func TestWrongEncryptionKeyRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EMFA_VERIFY_PASSWORD", "sim-password-0123")
	writeCfg := func(name, previous string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(`server:
  listen: "127.0.0.1:0"
  auth: {basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}}
storage:
  dsn: "file:`+dir+`/emfa.db"
  encryptionKey: "${EMFA_ENCRYPTION_KEY}"
  previousEncryptionKeys: [`+previous+`]
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
`), 0o600)
		return path
	}
	cfg := writeCfg("emfa.yaml", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--config", cfg)

	oldKey, _ := base64.StdEncoding.DecodeString(testEncryptionKey)
	newKey := []byte("fedcba9876543210fedcba9876543210")
	newB64 := base64.StdEncoding.EncodeToString(newKey)
	t.Setenv("EMFA_ENCRYPTION_KEY", newB64)
	for _, args := range [][]string{{"serve"}, {"users", "add", "bob"}, {"factors", "add", "totp", "--user", "alice"}, {"import", "x.csv"}} {
		code, out, errOut := runUntilListening(t, append(args, "--config", cfg)...)
		if code != 1 || out != "" {
			t.Errorf("%q with another key: exit %d, %q\n%s", args, code, out, errOut)
		}
		for _, want := range []string{builtin.KeyID(oldKey), builtin.KeyID(newKey), "previousEncryptionKeys"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%q: the refusal does not name %q:\n%s", args, want, errOut)
			}
		}
		for _, secret := range []string{testEncryptionKey, newB64, string(oldKey), string(newKey)} {
			if strings.Contains(errOut, secret) {
				t.Errorf("%q: the refusal shows a key:\n%s", args, errOut)
			}
		}
	}
	// A command that only reads or removes runs, with the warning: with the key lost for
	// good, it is how the operator finds and removes the factors nothing can verify.
	code, out, errOut := emfa(t, "factors", "list", "--user", "alice", "--config", cfg)
	if code != 0 || !strings.Contains(out, "totp") || !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, builtin.KeyID(oldKey)) {
		t.Errorf("factors list with another key: exit %d\n%s%s", code, out, errOut)
	}
	// Nothing was sealed with the wrong key meanwhile.
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	if out := mustEmfa(t, "users", "list", "--config", cfg); strings.Contains(out, "bob") {
		t.Errorf("a refused command added bob:\n%s", out)
	}
	// A rotation: the new key current, the old one listed as previous.
	t.Setenv("EMFA_ENCRYPTION_KEY", newB64)
	rotated := writeCfg("rotated.yaml", `"`+testEncryptionKey+`"`)
	mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--config", rotated)
	startServe(t, rotated)
}

// A reload (SIGHUP) whose configuration lacks the key the store's factors are sealed
// with is refused like a start, and the running configuration kept; one that keeps the
// old key as a previous one rotates.
func TestReloadRefusesWrongEncryptionKey(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EMFA_VERIFY_PASSWORD", "sim-password-0123")
	newB64 := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	config := func(key, previous string) string {
		return `server:
  listen: "127.0.0.1:0"
  auth: {basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}}
storage:
  dsn: "file:` + dir + `/emfa.db"
  encryptionKey: "` + key + `"
  previousEncryptionKeys: [` + previous + `]
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
`
	}
	cfg := filepath.Join(dir, "emfa.yaml")
	replaceFile(t, cfg, config(testEncryptionKey, ""))
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--config", cfg)
	_, logs, reload := reloadingServe(t, cfg)

	replaceFile(t, cfg, config(newB64, ""))
	oldKey, _ := base64.StdEncoding.DecodeString(testEncryptionKey)
	if err := reload(); err == nil || !strings.Contains(err.Error(), builtin.KeyID(oldKey)) {
		t.Errorf("reload with another key: %v\n%s", err, logs)
	}
	replaceFile(t, cfg, config(newB64, `"`+testEncryptionKey+`"`))
	if err := reload(); err != nil {
		t.Errorf("reload rotating the key: %v\n%s", err, logs)
	}
}

// runUntilListening runs a command as emfa does; a serve that starts listening is stopped
// at once (exit 0), so that one which should have refused fails the test instead of
// serving until it times out.
func runUntilListening(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	d := (&cli{}).deps(&stdout, &stderr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.listening = func(string) { cancel() }
	code := run(ctx, args, d)
	return code, stdout.String(), stderr.String()
}

// An operator who lost the key for good (the README: "Losing every key loses every
// factor") can still remove the dead factors and users with emfa.
func TestLostKeyFactorsCanBeRemoved(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EMFA_VERIFY_PASSWORD", "sim-password-0123")
	cfg := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(cfg, []byte(`server:
  listen: "127.0.0.1:0"
  auth: {basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}}
storage:
  dsn: "file:`+dir+`/emfa.db"
  encryptionKey: "${EMFA_ENCRYPTION_KEY}"
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	mustEmfa(t, "users", "add", "bob", "--config", cfg)
	id := regexp.MustCompile(`"id": ?"([^"]+)"`).FindStringSubmatch(mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--config", cfg))
	mustEmfa(t, "factors", "add", "totp", "--user", "bob", "--config", cfg)
	if id == nil {
		t.Fatal("no factor id")
	}
	t.Setenv("EMFA_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210")))
	for _, args := range [][]string{{"factors", "list", "--user", "alice"}, {"factors", "delete", id[1]}, {"users", "delete", "bob"}, {"audit"}} {
		if code, out, errOut := emfa(t, append(args, "--config", cfg)...); code != 0 {
			t.Errorf("%s with the key lost: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	// The store's secrets are all sealed with keys the keyring has now: it starts.
	startServe(t, cfg)
}
