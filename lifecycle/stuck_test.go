package lifecycle_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// errNoDeadline is what a stuckAudits call on a context without a deadline returns at
// once: it would wait forever in a store that stopped answering.
var errNoDeadline = errors.New("a store call without a deadline")

// stuckAudits is a real store whose audit rows written on their own (AppendAudit, not in
// a unit) stop answering, as a store behind a partition does: such a call waits until its
// context ends.
type stuckAudits struct {
	store.Store
	unbound atomic.Int32 // calls made without a deadline
}

func (s *stuckAudits) AppendAudit(ctx context.Context, _ store.AuditEvent) error {
	if _, ok := ctx.Deadline(); !ok {
		s.unbound.Add(1)
		return errNoDeadline
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestStuckStoreAuditApart: the record of a refusal or of an action that stands without it
// (appended apart, on a context that outlives the request) ends when the store does not
// answer, by the request's deadline and provider.WriteGrace, rather than hold its
// goroutine and a connection forever.
func TestStuckStoreAuditApart(t *testing.T) {
	const timeout = 10 * time.Second
	for _, c := range []struct {
		name string
		run  func(ctx context.Context, m *lifecycle.Manager) error
	}{
		{"a refusal", func(ctx context.Context, m *lifecycle.Manager) error {
			_, err := m.ResetUser(ctx, "test", "alice", "shred")
			return err
		}},
		{"an import's summary", func(ctx context.Context, m *lifecycle.Manager) error {
			_, err := m.Import(ctx, "test", []lifecycle.ImportRow{{Username: "alice"}}, nil, lifecycle.ImportOptions{})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &stuckAudits{Store: testdb.SQLite(t)}
				m, _ := newManager(t, st)
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				start := time.Now()
				_ = c.run(ctx, m)
				if n := st.unbound.Load(); n > 0 {
					t.Errorf("%d audit write(s) to a store that does not answer without a deadline: they would wait forever", n)
				}
				// Fake time: the bound is exact, not a guess at how slow a machine is.
				if took, limit := time.Since(start), timeout+provider.WriteGrace; took > limit {
					t.Errorf("answered after %v, want within %v", took, limit)
				}
			})
		})
	}
}
