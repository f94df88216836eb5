package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/store/sqlstore"
)

// queueUnit starts s.Update(ctx, fn) on a goroutine of its own and waits a little, so
// that units started in turn queue in that order behind a held writer. The result comes
// on the channel: the error, or the panic its caller saw, or errGoexit when its
// goroutine ended without either.
func queueUnit(s store.Store, ctx context.Context, fn func(store.Writer) error) <-chan any {
	out := make(chan any, 1)
	go func() {
		returned := false
		defer func() {
			if p := recover(); p != nil {
				out <- p
			} else if !returned {
				out <- errGoexit
			}
		}()
		err := s.Update(ctx, fn)
		returned = true
		out <- err
	}()
	time.Sleep(30 * time.Millisecond)
	return out
}

var errGoexit = errors.New("the caller's goroutine ended (runtime.Goexit)")

// outcome waits for what a queued unit's caller was told.
func outcome(t *testing.T, c <-chan any, who string) any {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: never answered", who)
		return nil
	}
}

// audited reports whether the audit row of request id id is there.
func audited(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	events, err := s.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.RequestID == id {
			return true
		}
	}
	return false
}

func auditUnit(id string) func(store.Writer) error {
	return func(w store.Writer) error {
		return w.AppendAudit(context.Background(), store.AuditEvent{Time: time.Now(), Username: "alice", RequestID: id, Outcome: "SUCCESS"})
	}
}

// TestAfterCommitPanicTellsTheTruth: a panic in the AfterCommit hook comes once the
// batch has committed: the units of the batch led by another caller are told they
// committed, as they did, not that their commit failed; the panic reaches the caller that
// led the batch, and the writer takes writes after.
func TestAfterCommitPanicTellsTheTruth(t *testing.T) {
	st := testdb.Memory(t)
	s := st.(*sqlite.Store).Store
	var arm atomic.Bool
	sqlstore.OnCommit(s, func() {
		if arm.CompareAndSwap(true, false) {
			panic("after-commit hook fault")
		}
	})
	release := holdWriter(t, s)
	leader := queueUnit(s, t.Context(), func(w store.Writer) error {
		arm.Store(true) // the hook of this batch's commit panics
		return auditUnit("leader")(w)
	})
	other := queueUnit(s, t.Context(), auditUnit("other"))
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if p := outcome(t, leader, "the leader"); p != "after-commit hook fault" {
		t.Errorf("the caller that led the batch: %v, want the hook's panic", p)
	}
	got := outcome(t, other, "the other unit")
	if ok := audited(t, s, "other"); got != nil || !ok {
		t.Errorf("a unit of a batch that committed before its hook panicked was told %v; its row is there: %v", got, ok)
	}
	if err := s.Update(t.Context(), auditUnit("after")); err != nil {
		t.Errorf("a write after: %v", err)
	}
}

// TestGoexitInAQueuedUnit: a unit's fn that ends its goroutine (runtime.Goexit, as
// t.FailNow does) while another caller leads its batch ends that caller's goroutine, which
// nothing can stop; but its own caller's goroutine ends too, as it would have had fn run
// there, rather than going on told that the commit panicked (a test's goroutine that then
// waits for the leader's would wait forever). The writer takes writes after.
func TestGoexitInAQueuedUnit(t *testing.T) {
	s := testdb.SQLite(t) // a file: the connection discarded under the Goexit is not the database
	release := holdWriter(t, s)
	leader := queueUnit(s, t.Context(), auditUnit("leader"))
	exiting := queueUnit(s, t.Context(), func(w store.Writer) error {
		if err := auditUnit("exiting")(w); err != nil {
			return err
		}
		runtime.Goexit()
		return nil
	})
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if got := outcome(t, leader, "the leader"); got != errGoexit {
		t.Logf("the caller that led the batch: %v", got)
	}
	if got := outcome(t, exiting, "the unit that ended its goroutine"); got != errGoexit {
		t.Errorf("the caller of a unit whose fn called runtime.Goexit: %v, want its goroutine ended", got)
	}
	if audited(t, s, "exiting") {
		t.Error("the unit that ended its goroutine committed")
	}
	for i := range 3 {
		if err := s.Update(t.Context(), auditUnit(fmt.Sprint("after-", i))); err != nil {
			t.Errorf("write %d after: %v", i, err)
		}
	}
}

// TestLeaderCanceledMidBatch: the caller leading a batch gives up while it runs
// (its own unit's fn cancels its context, after writing): the batch is not interrupted,
// the units after it in the batch commit, and so does the leader's own, which had run.
func TestLeaderCanceledMidBatch(t *testing.T) {
	s := testdb.SQLite(t)
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	leader := queueUnit(s, ctx, func(w store.Writer) error {
		if err := auditUnit("leader")(w); err != nil {
			return err
		}
		cancel()
		return nil
	})
	var others []<-chan any
	for i := range 3 {
		others = append(others, queueUnit(s, t.Context(), auditUnit(fmt.Sprint("other-", i))))
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if got := outcome(t, leader, "the leader"); got != nil || !audited(t, s, "leader") {
		t.Errorf("the leader, canceled after its unit ran: %v, its row there: %v", got, audited(t, s, "leader"))
	}
	for i, c := range others {
		if got := outcome(t, c, "a unit"); got != nil || !audited(t, s, fmt.Sprint("other-", i)) {
			t.Errorf("unit %d of a batch whose leader gave up: %v, its row there: %v", i, got, audited(t, s, fmt.Sprint("other-", i)))
		}
	}
}
