package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// childEnv marks the test binary as the durability child; its value is the DSN to write to.
const childEnv = "EMFA_SQLITE_DURABILITY_CHILD"

const (
	killAfter = 200   // ids the parent reads before it kills the child
	childMax  = 20000 // the child stops by itself after this many, should the kill never come
)

func TestMain(m *testing.M) {
	if dsn := os.Getenv(childEnv); dsn != "" {
		os.Exit(durabilityChild(dsn))
	}
	os.Exit(m.Run())
}

// durabilityChild creates factors one by one and prints each id only once CreateFactor has
// returned nil, i.e. once the store has promised the row is there.
func durabilityChild(dsn string) int {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	now := time.Now()
	for i := range childMax {
		f := store.Factor{
			ID: fmt.Sprintf("f%06d", i), UserID: "u1", Type: "totp", State: store.FactorActive,
			Secret: bytes.Repeat([]byte{byte(i)}, 64), Params: map[string]string{"i": fmt.Sprint(i)},
			Counter: -1, CreatedAt: now, UpdatedAt: now,
		}
		if err := s.CreateFactor(ctx, f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := fmt.Println(f.ID); err != nil {
			return 1 // the parent has gone
		}
	}
	return 0
}

// TestDurability kills a writing process with SIGKILL and checks that every write it had
// acknowledged survived and that the file is intact. SIGKILL does not lose the OS page cache,
// so this tests SQLite's commit protocol and the store's error path, not the disk.
func TestDurability(t *testing.T) {
	dsn := fileDSN(t)
	setup, err := sqlite.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.CreateUser(t.Context(), store.User{ID: "u1", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := setup.Close(); err != nil {
		t.Fatal(err)
	}

	// The deadline bounds a child that hangs; CommandContext kills it then.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDurability$")
	cmd.Env = append(os.Environ(), childEnv+"="+dsn)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	killed := false
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break // EOF; a line cut short by the kill was never fully acknowledged
		}
		ids = append(ids, strings.TrimSuffix(line, "\n"))
		if len(ids) == killAfter {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill: %v", err)
			}
			killed = true
		}
	}
	waitErr := cmd.Wait()
	if !killed {
		t.Fatalf("child stopped after %d ids, before the kill: %v\nstderr:\n%s", len(ids), waitErr, stderr.String())
	}
	t.Logf("child acknowledged %d factors before SIGKILL took effect", len(ids))

	s := open(t, dsn)
	for _, id := range ids {
		if _, err := s.GetFactor(t.Context(), id); err != nil {
			t.Errorf("acknowledged factor %s: %v", id, err)
		}
	}

	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "file:"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check); err != nil {
		t.Fatal(err)
	}
	if check != "ok" {
		t.Errorf("integrity_check: %s", check)
	}
}
