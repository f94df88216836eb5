package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lateFailingConfig writes a configuration that loads and passes every check made before
// the store opens, but fails serve after it: the OAuth signing key's file is generated at
// start, under a path whose parent is a regular file.
func lateFailingConfig(t *testing.T, dir string) string {
	t.Helper()
	notDir := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(cfg, []byte(`server:
  listen: "127.0.0.1:0"
  auth:
    basic: {username: verify, password: "sim-password-0123"}
    oauth: {signingKeyFile: "`+notDir+`/key.pem"}
storage:
  dsn: "file:`+dir+`/emfa.db"
  encryptionKey: "`+testEncryptionKey+`"
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A serve that fails after it created a new SQLite store removes that store: left behind,
// the next start was no longer a first start (no "created a new store" to catch a
// mistyped storage.dsn), and held a schema and a key that no operator ever chose.
func TestServeFailingLateRemovesTheStoreItCreated(t *testing.T) {
	dir := t.TempDir()
	cfg := lateFailingConfig(t, dir)
	code, _, stderr := runUntilListening(t, "serve", "--config", cfg)
	if code == 0 || !strings.Contains(stderr, "signing key") {
		t.Fatalf("serve exited %d, want a failure about the signing key:\n%s", code, stderr)
	}
	for _, f := range []string{"emfa.db", "emfa.db-wal", "emfa.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s after a serve that failed before serving: %v (want it removed)", f, err)
		}
	}
	// The next start is a first start again: it says it creates the store.
	if err := os.Remove(filepath.Join(dir, "not-a-dir")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runUntilListening(t, "serve", "--config", cfg)
	if code != 0 || !strings.Contains(stderr, "created a new store") {
		t.Errorf("the next serve exited %d, want a first start that creates the store:\n%s", code, stderr)
	}
}

// A serve that fails late on a store that was there before never removes it.
func TestServeFailingLateKeepsAnExistingStore(t *testing.T) {
	dir := t.TempDir()
	cfg := lateFailingConfig(t, dir)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	code, _, stderr := runUntilListening(t, "serve", "--config", cfg)
	if code == 0 || !strings.Contains(stderr, "signing key") {
		t.Fatalf("serve exited %d, want a failure about the signing key:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "emfa.db")); err != nil {
		t.Fatalf("the existing store after a serve that failed: %v", err)
	}
	if out := mustEmfa(t, "users", "list", "--config", cfg); !strings.Contains(out, "alice") {
		t.Errorf("users list after a serve that failed: alice is gone:\n%s", out)
	}
}

// A store this start created, but which another process wrote to before the start failed
// (an `emfa users add` run beside a first start), is no longer the start's own: it is
// kept, with what the other process wrote.
func TestServeFailingLateKeepsAStoreAnotherProcessWrote(t *testing.T) {
	dir := t.TempDir()
	cfg := lateFailingConfig(t, dir)
	var stdout, stderr bytes.Buffer
	d := (&cli{}).deps(&stdout, &stderr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.listening = func(string) { cancel() }
	d.owned = func() { mustEmfa(t, "users", "add", "alice", "--config", cfg) }
	if code := run(ctx, []string{"serve", "--config", cfg}, d); code == 0 || !strings.Contains(stderr.String(), "signing key") {
		t.Fatalf("serve exited %d, want a failure about the signing key:\n%s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "emfa.db")); err != nil {
		t.Fatalf("the store alice was added to, after a serve that failed: %v", err)
	}
	if out := mustEmfa(t, "users", "list", "--config", cfg); !strings.Contains(out, "alice") {
		t.Errorf("users list after a serve that failed: alice is gone:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "is kept: it holds rows written meanwhile (table users)") {
		t.Errorf("serve did not say why it kept the store it created:\n%s", stderr.String())
	}
}

// A second serve that opened the store a first start created, and locks it only once that
// start has failed and removed it, refuses to start: it served a file unlinked from
// its path, whose writes were lost at its next start (or the lock left a third serve a
// new file beside it).
func TestServeRefusesTheStoreAFailedStartRemoved(t *testing.T) {
	dir := t.TempDir()
	cfg := lateFailingConfig(t, dir)
	good := filepath.Join(dir, "good.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), dir+"/not-a-dir/key.pem", dir+"/key.pem", 1))
	if err := os.WriteFile(good, data, 0o600); err != nil {
		t.Fatal(err)
	}
	second := make(chan int, 1)
	var secondErr bytes.Buffer
	failLateBeside(t, dir, cfg, func(opened func()) {
		// The second serve opens the store the first has created, then waits.
		d2 := (&cli{}).deps(&bytes.Buffer{}, &secondErr)
		ctx2, cancel2 := context.WithCancel(context.Background())
		defer cancel2()
		d2.listening = func(string) { cancel2() }
		d2.opened = opened
		second <- run(ctx2, []string{"serve", "--config", good}, d2)
	})
	if code := <-second; code == 0 || !strings.Contains(secondErr.String(), "was removed") {
		t.Errorf("the second serve exited %d, want a refusal of the removed store:\n%s", code, secondErr.String())
	}
}

// A start whose new SQLite store fails to open once its file is made (here a DSN naming
// no such VFS) leaves neither the empty file nor the folder it made: left behind, the
// next start, the DSN mended, was no longer a first start.
func TestServeFailingToOpenRemovesTheFileItCreated(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(cfg, []byte(`server:
  listen: "127.0.0.1:0"
  auth:
    basic: {username: verify, password: "sim-password-0123"}
storage:
  dsn: "file:`+data+`/emfa.db?vfs=nope"
  encryptionKey: "`+testEncryptionKey+`"
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runUntilListening(t, "serve", "--config", cfg)
	if code == 0 || !strings.Contains(stderr, "no such vfs") {
		t.Fatalf("serve exited %d, want a failure to open the store:\n%s", code, stderr)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the data folder after a start that could not open its new store: %v (want it removed)", err)
	}
}

// A command that opened the store a first start created, and writes only once that start
// has failed and removed it, fails saying so: its write went to the unlinked file, and
// it said "added user alice" of a row that was lost.
func TestCommandRefusesTheStoreAFailedStartRemoved(t *testing.T) {
	dir := t.TempDir()
	cfg := lateFailingConfig(t, dir)
	type result struct {
		code           int
		stdout, stderr string
	}
	added := make(chan result, 1)
	failLateBeside(t, dir, cfg, func(opened func()) {
		// The command opens the store the serve has created, then waits to write.
		var stdout, stderr bytes.Buffer
		d2 := (&cli{}).deps(&stdout, &stderr)
		d2.opened = opened
		code := run(context.Background(), []string{"users", "add", "alice", "--config", cfg}, d2)
		added <- result{code, stdout.String(), stderr.String()}
	})
	r := <-added
	if r.code == 0 || strings.Contains(r.stdout, "added user") || !strings.Contains(r.stderr, "was removed") ||
		!strings.Contains(r.stderr, "run the command again") || strings.Contains(r.stderr, "restore the file") {
		t.Errorf("users add exited %d, want a refusal of the removed store:\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// failLateBeside runs a serve of cfg, a lateFailingConfig in dir, and once that serve has
// created its store starts beside: another command, which sets its deps' opened to the
// hook it is given, and so holds once it opened the store until the serve has failed and
// removed it. It fails t unless the serve failed late and removed its store.
func failLateBeside(t *testing.T, dir, cfg string, beside func(opened func())) {
	t.Helper()
	opened, failed := make(chan struct{}), make(chan struct{})
	var stderr bytes.Buffer
	d := (&cli{}).deps(&bytes.Buffer{}, &stderr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.listening = func(string) { cancel() }
	d.owned = func() {
		go beside(func() { close(opened); <-failed })
		<-opened
	}
	code := run(ctx, []string{"serve", "--config", cfg}, d)
	close(failed)
	if code == 0 || !strings.Contains(stderr.String(), "signing key") {
		t.Fatalf("the serve exited %d, want a failure about the signing key:\n%s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "emfa.db")); !os.IsNotExist(err) {
		t.Fatalf("the store the serve created: %v (want it removed)", err)
	}
}
