package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Provisioning gives every factor its own id on its round-robin user, active, and leaves
// no admin token that still opens the API.
func TestProvision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds emfa and runs it")
	}
	repo, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "emfa")
	build := exec.Command("go", "build", "-o", bin, "./cmd/emfa")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "totp.yaml")
	if err := totpConfig(config, `driver: sqlite
  dsn: "file:`+filepath.Join(dir, "totp.db")+`"`, 30); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kv := env("EMFA_VERIFY_PASSWORD="+randHex(16), "EMFA_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const users, factors = 3, 7
	got, err := provision(ctx, bin, config, kv, users, factors, 30)
	if err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		cmd := exec.Command(bin, append(args, "--config", config)...)
		cmd.Env = kv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("emfa %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	seen := map[string]bool{}
	for i, f := range got {
		if f.id == "" || seen[f.id] {
			t.Errorf("factor %d: id %q empty or repeated", i, f.id)
		}
		seen[f.id] = true
		if f.user != benchUser(i%users) || string(f.seed) != string(benchSeed(i)) {
			t.Errorf("factor %d: user %s, want %s; or not seed %d", i, f.user, benchUser(i%users), i)
		}
		list := cli("factors", "list", "--user", f.user)
		found := false
		for line := range strings.SplitSeq(list, "\n") {
			fs := strings.Fields(line)
			found = found || len(fs) > 0 && fs[0] == f.id && slices.Contains(fs, "totp") && slices.Contains(fs, "active")
		}
		if !found {
			t.Errorf("factor %d: %s is not an active totp factor of %s:\n%s", i, f.id, f.user, list)
		}
	}
	for line := range strings.SplitSeq(cli("tokens", "list"), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == provisionToken && f[3] == "-" {
			t.Errorf("the provisioning token is not revoked: %s", line)
		}
	}
}
