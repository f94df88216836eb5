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
	"sync"
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

// batchChildEnv marks the test binary as the group-commit durability child.
const batchChildEnv = "EMFA_SQLITE_BATCH_CHILD"

func TestMain(m *testing.M) {
	if dsn := os.Getenv(childEnv); dsn != "" {
		os.Exit(runChild(dsn, durabilityChild))
	}
	if dsn := os.Getenv(batchChildEnv); dsn != "" {
		os.Exit(runChild(dsn, batchChild))
	}
	os.Exit(m.Run())
}

// runChild opens the store at dsn for a child and returns its exit code.
func runChild(dsn string, child func(ctx context.Context, s *sqlite.Store) int) int {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	return child(ctx, s)
}

// durabilityChild creates factors one by one and prints each id only once CreateFactor has
// returned nil, i.e. once the store has promised the row is there.
func durabilityChild(ctx context.Context, s *sqlite.Store) int {
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
	setupDurability(t, dsn)

	ids := killChild(t, childEnv, dsn, killAfter)
	t.Logf("child acknowledged %d factors before SIGKILL took effect", len(ids))

	s := open(t, dsn)
	for _, id := range ids {
		if _, err := s.GetFactor(t.Context(), id); err != nil {
			t.Errorf("acknowledged factor %s: %v", id, err)
		}
	}
	integrityCheck(t, dsn)
}

// setupDurability creates the database at dsn with user u1 (alice) and factors of hers,
// and closes it for a child to open.
func setupDurability(t *testing.T, dsn string, factors ...store.Factor) {
	t.Helper()
	setup, err := sqlite.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.CreateUser(t.Context(), store.User{ID: "u1", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range factors {
		if err := setup.CreateFactor(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	if err := setup.Close(); err != nil {
		t.Fatal(err)
	}
}

// killChild runs this test binary as the child env names, writing to dsn, reads the lines
// it prints, kills it with SIGKILL once it has printed killAfter, and returns every line it
// printed in full.
func killChild(t *testing.T, env, dsn string, killAfter int) []string {
	t.Helper()
	// The deadline bounds a child that hangs; CommandContext kills it then.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+dsn)
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
		t.Fatalf("child stopped after %d lines, before the kill: %v\nstderr:\n%s", len(ids), waitErr, stderr.String())
	}
	return ids
}

// integrityCheck fails t unless SQLite finds the database file intact.
func integrityCheck(t *testing.T, dsn string) {
	t.Helper()
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

const (
	batchWriters   = 32   // goroutines of the batch child, each on a factor of its own
	batchKillAfter = 3000 // units the parent reads acknowledged before it kills the child
)

// batchChild runs batchWriters goroutines that each make decisions on their own factor,
// as units of Update: the counter to k and an audit row saying k. Units arriving together
// share the group writer's commits. It prints "factor k" once Update has returned nil.
func batchChild(ctx context.Context, s *sqlite.Store) int {
	var mu sync.Mutex
	errs := make(chan error, batchWriters)
	for i := range batchWriters {
		go func() {
			id := fmt.Sprintf("g%02d", i)
			for k := int64(0); k < childMax; k++ {
				err := s.Update(ctx, func(w store.Writer) error {
					if err := w.AdvanceCounter(ctx, id, k, time.Now()); err != nil {
						return err
					}
					return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), FactorID: id, Resource: "validate", Outcome: fmt.Sprint(k)})
				})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				_, err = fmt.Printf("%s %d\n", id, k)
				mu.Unlock()
				if err != nil {
					errs <- err // the parent has gone
					return
				}
			}
			errs <- nil
		}()
	}
	for range batchWriters {
		if err := <-errs; err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// TestBatchDurability kills, with SIGKILL, a process whose concurrent units are being
// group-committed, and checks that every unit it had acknowledged survived, and that every
// unit on disk is whole: a factor's counter and its audit rows move together, so no batch
// is half there and no unit of one half written.
func TestBatchDurability(t *testing.T) {
	dsn := fileDSN(t)
	var factors []store.Factor
	for i := range batchWriters {
		factors = append(factors, store.Factor{ID: fmt.Sprintf("g%02d", i), UserID: "u1", Type: "totp", State: store.FactorActive, Counter: -1})
	}
	setupDurability(t, dsn, factors...)

	lines := killChild(t, batchChildEnv, dsn, batchKillAfter)
	acked := map[string]int64{}
	for _, l := range lines {
		var id string
		var k int64
		if _, err := fmt.Sscanf(l, "%s %d", &id, &k); err != nil {
			t.Fatalf("child printed %q: %v", l, err)
		}
		acked[id] = max(acked[id], k+1)
	}
	t.Logf("child acknowledged %d units before SIGKILL took effect", len(lines))

	s := open(t, dsn)
	audit, err := s.ListAudit(t.Context(), store.AuditFilter{Limit: childMax * batchWriters})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, e := range audit {
		rows[e.FactorID]++
	}
	for i := range batchWriters {
		id := fmt.Sprintf("g%02d", i)
		f, err := s.GetFactor(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if units := f.Counter + 1; units < acked[id] || rows[id] != units {
			t.Errorf("factor %s: counter %d and %d audit rows after %d acknowledged units; want the counter at %d or more and one row per unit",
				id, f.Counter, rows[id], acked[id], acked[id]-1)
		}
	}
	integrityCheck(t, dsn)
}
