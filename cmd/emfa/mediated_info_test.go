package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duofake"
)

// serveDUOYAML serves testdata/config/duo.yaml as the bench harness does: logging at
// info as JSON to a file, on its own SQLite file, in front of the DUO fake.
func serveDUOYAML(b *testing.B) string {
	b.Helper()
	duo := duofake.New(b, duofake.Options{IntegrationKey: duoIKey, SecretKey: duoSKey})
	duo.AddUser("alice", duofake.Device{ID: aliceID, Type: "phone", Capabilities: []string{"push"}})
	dir := b.TempDir()
	raw, err := os.ReadFile("../../testdata/config/duo.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg := strings.Replace(string(raw), `listen: "127.0.0.1:8080"`, `listen: "127.0.0.1:0"`, 1)
	cfg = strings.Replace(cfg, `"file:emfa-data/emfa.db"`, `"file:`+dir+`/emfa.db"`, 1)
	path := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv("DUO_API_URL", duo.URL())
	b.Setenv("DUO_IKEY", duoIKey)
	b.Setenv("DUO_SKEY", duoSKey)
	b.Setenv("EMFA_VERIFY_PASSWORD", "sim-password-0123")
	b.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	logf, err := os.Create(filepath.Join(dir, "emfa.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		logf.Close()
		if keep := os.Getenv("EMFA_BENCH_KEEP_LOG"); keep != "" {
			data, _ := os.ReadFile(logf.Name())
			os.WriteFile(keep, data, 0o600)
		}
	})
	addrc := make(chan string, 1)
	d := (&cli{}).deps(io.Discard, logf)
	d.listening = func(addr string) { addrc <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", path}, d) }()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case addr := <-addrc:
		return "http://" + addr
	case code := <-done:
		b.Fatalf("serve exited %d", code)
	case <-time.After(30 * time.Second):
		b.Fatal("serve did not start")
	}
	return ""
}

// BenchmarkMediatedEnrollmentsInfo is BenchmarkMediatedEnrollmentsParallel on the
// shipped duo.yaml, logging at info as JSON to a file, as the bench harness runs it.
func BenchmarkMediatedEnrollmentsInfo(b *testing.B) {
	enrollmentsParallel(b, serveDUOYAML(b))
}
