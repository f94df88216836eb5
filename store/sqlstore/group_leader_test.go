package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestIdleWriterRunsOnCaller: a write that finds no batch running runs its unit on
// its caller's goroutine, rather than handing it to a writer goroutine and waiting to be
// woken (issue 16: two goroutine switches of every pass).
func TestIdleWriterRunsOnCaller(t *testing.T) {
	s := testdb.Memory(t)
	var stack []byte
	if err := s.Update(t.Context(), func(store.Writer) error {
		stack = make([]byte, 64<<10)
		stack = stack[:runtime.Stack(stack, false)]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(stack, []byte(".TestIdleWriterRunsOnCaller(")) {
		t.Errorf("the unit of a write to an idle writer ran on another goroutine:\n%s", stack)
	}
}

// holdWriter starts a unit that holds s's writer until release is called, which returns
// the unit's error.
func holdWriter(t *testing.T, s store.Store) (release func() error) {
	t.Helper()
	started, done := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.Update(context.Background(), func(store.Writer) error {
			close(started)
			<-done
			return nil
		})
	}()
	testwait.Recv(t, "the unit to hold the writer", started)
	return func() error {
		close(done)
		return testwait.Recv(t, "the unit holding the writer to end", errc)
	}
}

// TestQueuedUnitCanceled: a unit queued behind a running batch whose context ends
// returns at once with its context's error and never runs; the units queued with it
// commit in the next batch, and the writer takes writes after.
func TestQueuedUnitCanceled(t *testing.T) {
	s := testdb.Memory(t)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	cctx, cancel := context.WithCancel(ctx)
	ran := make(chan struct{}, 1)
	canceled := make(chan error, 1)
	go func() {
		canceled <- s.Update(cctx, func(store.Writer) error { ran <- struct{}{}; return nil })
	}()
	other := make(chan error, 1)
	go func() {
		other <- s.Update(ctx, func(w store.Writer) error {
			return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Username: "alice", Outcome: "SUCCESS"})
		})
	}()
	time.Sleep(50 * time.Millisecond) // both queue behind the held batch
	cancel()
	select {
	case err := <-canceled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the canceled unit: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a queued unit whose context ended still waits for the batch before it")
		_ = release()
		<-canceled
		<-other
		return
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := testwait.Recv(t, "the unit queued with the canceled one to end", other); err != nil {
		t.Fatalf("the unit queued with the canceled one: %v", err)
	}
	select {
	case <-ran:
		t.Error("the canceled unit ran")
	default:
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive, Counter: -1}); err != nil {
		t.Fatalf("a write after: %v", err)
	}
}

// TestQueuedUnitsShareOneCommit: units that queue while a batch runs commit
// together in the next, whichever of them leads it: n queued writers, two commits.
func TestQueuedUnitsShareOneCommit(t *testing.T) {
	st := testdb.Memory(t)
	s := st.(*sqlite.Store).Store
	commits := sqlstore.CountCommits(s)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	commits.Store(0)
	release := holdWriter(t, s)
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.Update(ctx, func(w store.Writer) error {
				return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Username: "alice", Outcome: fmt.Sprint("o", i)})
			})
		})
	}
	time.Sleep(100 * time.Millisecond) // they queue behind the held batch
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := commits.Load(); got != 2 {
		t.Errorf("%d commits for a held batch and %d units queued behind it, want 2", got, n)
	}
	events, err := s.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Errorf("%d audit rows, want %d", len(events), n)
	}
}

// TestBatchPanicOutsideUnits: a panic of the batch's own statements, outside any
// unit's code (here the compare-and-set a unit left held, run once its fn has returned),
// reaches the caller that led the batch; the others queued in it are answered with an
// error rather than left waiting, and the writer takes writes after.
func TestBatchPanicOutsideUnits(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, "file:"+filepath.Join(t.TempDir(), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.Store
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive, Counter: -1}); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	stop := sqlstore.PanicOn(s, "UPDATE factors SET counter")
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_ = s.Update(ctx, func(w store.Writer) error { return w.AdvanceCounter(ctx, "f1", 1, time.Now()) })
	}()
	time.Sleep(20 * time.Millisecond) // first in the queue: it leads the next batch
	other := make(chan error, 1)
	go func() {
		other <- s.Update(ctx, func(w store.Writer) error {
			return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Username: "alice", Outcome: "SUCCESS"})
		})
	}()
	time.Sleep(50 * time.Millisecond)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-panicked:
		if p == nil {
			t.Error("the batch's panic did not reach the caller that led it")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the caller that led a panicking batch never returned")
	}
	select {
	case err := <-other:
		if err == nil {
			t.Error("a unit of a batch that panicked before its commit was answered as committed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a unit of a batch that panicked was left waiting")
	}
	stop()
	if err := s.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Username: "alice", Outcome: "SUCCESS"}); err != nil {
		t.Fatalf("a write after the panic: %v", err)
	}
}
