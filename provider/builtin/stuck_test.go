package builtin_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// errNoDeadline is what a stuckStore call on a context without a deadline returns at
// once: it would wait forever in a store that stopped answering.
var errNoDeadline = errors.New("a store call without a deadline")

// stuckStore is a real store whose deletions, audit rows and activations stop answering
// (a network partition, a failover that hangs) once Stuck is set: such a call waits until
// its context ends.
type stuckStore struct {
	store.Store
	Stuck   atomic.Bool
	unbound atomic.Int32 // calls made stuck without a deadline
}

func (s *stuckStore) wait(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		s.unbound.Add(1)
		return errNoDeadline
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *stuckStore) DeleteFactor(ctx context.Context, id string) error {
	if s.Stuck.Load() {
		return s.wait(ctx)
	}
	return s.Store.DeleteFactor(ctx, id)
}

func (s *stuckStore) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	if s.Stuck.Load() {
		return s.wait(ctx)
	}
	return s.Store.AppendAudit(ctx, ev)
}

func (s *stuckStore) Update(ctx context.Context, fn func(store.Writer) error) error {
	return s.Store.Update(ctx, func(w store.Writer) error { return fn(stuckWriter{w, s}) })
}

type stuckWriter struct {
	store.Writer
	s *stuckStore
}

func (w stuckWriter) ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error {
	if w.s.Stuck.Load() {
		return w.s.wait(ctx)
	}
	return w.Writer.ActivateFactor(ctx, id, params, now)
}

// TestStuckStoreActivation: the writes of an activation made to outlive their request (the
// removal of a factor whose code could not be sent, the record of a refusal, the activation
// on first use) end when the store does not answer, by the request's deadline and
// provider.WriteGrace: they neither hold the request nor leak a goroutine and a connection.
func TestStuckStoreActivation(t *testing.T) {
	const timeout = 10 * time.Second
	refusal := func(outcome, reason string) store.AuditEvent {
		return store.AuditEvent{Resource: "activate", Outcome: outcome, Reason: reason}
	}
	for _, c := range []struct {
		name string
		run  func(t *testing.T, ctx context.Context, f *engineFixture, st *stuckStore) error
	}{
		{"a factor whose code was not sent is removed", func(t *testing.T, ctx context.Context, f *engineFixture, st *stuckStore) error {
			f.sms.fail(errors.New("carrier down"))
			in := enrollment("smsotp", "alice", "phone", "+15550001111")
			in.Activation = builtin.ActivationPasscode
			st.Stuck.Store(true)
			_, err := f.engine.Enroll(ctx, in)
			return err
		}},
		{"the record of a refused activation", func(t *testing.T, ctx context.Context, f *engineFixture, st *stuckStore) error {
			id := f.enroll(t, "totp", "alice").Factor.ID // active: it waits for no passcode
			u := alice(t, f)
			st.Stuck.Store(true)
			_, err := f.engine.Activate(ctx, u, id, "123456", refusal)
			if !errors.Is(err, builtin.ErrActivation) {
				t.Errorf("Activate: %v, want ErrActivation", err)
			}
			return nil
		}},
		{"an activation on first use", func(t *testing.T, ctx context.Context, f *engineFixture, st *stuckStore) error {
			id := enrollAs(t, f, builtin.ActivationOnFirstUse, "smsotp", "alice", "phone", "+15550001111").Factor.ID
			out := f.initiate(t, "alice", "smsotp", id)
			st.Stuck.Store(true)
			got, err := f.engine.Validate(ctx, provider.Request{Username: "alice", Capability: "smsotp", ID: id,
				TransactionID: out.TransactionID, Passvalue: f.sms.last(t).Code})
			if got.Status != provider.StatusSuccess {
				t.Errorf("validate: %+v, %v; want SUCCESS, the activation left for the next sign-in", got, err)
			}
			return nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &stuckStore{Store: testdb.SQLite(t)}
				f := newEngineFixture(t, st, nil)
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				start := time.Now()
				_ = c.run(t, ctx, f, st)
				if n := st.unbound.Load(); n > 0 {
					t.Errorf("%d write(s) to a store that does not answer without a deadline: they would wait forever", n)
				}
				// Fake time: the bound is exact, not a guess at how slow a machine is.
				if took, limit := time.Since(start), timeout+provider.WriteGrace; took > limit {
					t.Errorf("answered after %v, want within %v", took, limit)
				}
			})
		})
	}
}
