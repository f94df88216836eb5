package lifecycle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// gatedActivation is a store whose units, once gate is set, wait in the middle of an
// activation: after the code's check has written the factor, before the activation
// writes it again, on the row of factor gate (which the test holds). runs counts the
// units run since (a deadlock's victim runs again).
type gatedActivation struct {
	store.Store
	gate string
	runs atomic.Int32
}

func (s *gatedActivation) Update(ctx context.Context, fn func(w store.Writer) error) error {
	if s.gate == "" {
		return s.Store.Update(ctx, fn)
	}
	return s.Store.Update(ctx, func(w store.Writer) error {
		s.runs.Add(1)
		return fn(gatedWriter{Writer: w, gate: s.gate})
	})
}

type gatedWriter struct {
	store.Writer
	gate string
}

func (w gatedWriter) ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error {
	if err := w.Writer.UpdateFactorParams(ctx, w.gate, nil, map[string]string{}, now); err != nil {
		return err
	}
	return w.Writer.ActivateFactor(ctx, id, params, now)
}

// TestActivationBesideUserDeleteDoesNotDeadlock: an activation (the admin API's, of a
// TOTP seed and of a texted code) and the deletion of its user at once on PostgreSQL both
// go through, one after the other, and PostgreSQL aborts neither as deadlocked. The
// activation's unit writes the factor twice (the code's check, then the activation), and
// PostgreSQL checks factors.user_id's foreign key again at the second write, taking the
// user's row FOR KEY SHARE; the delete takes the user's row, then its factors (ON DELETE
// CASCADE). Here the activation waits between its two writes while the delete starts:
// each held what the other waited for (40P01), found in lifecycle's TestTransitionRaces.
// The activation's session looks for a deadlock after 50 ms, the delete's after 30 s, so
// that one would be the activation's: run again, it found its factor gone and was
// refused, where the activation holding its user's row first commits, and the delete
// waits for it.
func TestActivationBesideUserDeleteDoesNotDeadlock(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	ctx := context.Background()
	app := "lcr" + time.Now().Format("150405.000000")
	open := func(name, deadlockTimeout string) store.Store {
		s, err := postgres.Open(ctx, dsn+"&application_name="+app+name+"&deadlock_timeout="+deadlockTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	waiting := func(name string) bool {
		var n int
		if err := sv.Admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
			app+name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	gated := &gatedActivation{Store: open("a", "50ms")}
	sender := &keptSender{}
	m, clk := newManagerSending(t, gated, sender)
	other, _ := newManager(t, open("d", "30s"))
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	if _, err := other.CreateUser(ctx, "test", lifecycle.UserInput{Name: "gate"}); err != nil {
		t.Fatal(err)
	}
	gate, err := other.EnrollFactor(ctx, "test", "gate", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"totp", "smsotp"} {
		user := "alice-" + typ
		if _, err := other.CreateUser(ctx, "test", lifecycle.UserInput{Name: user}); err != nil {
			t.Fatal(err)
		}
		in := lifecycle.Enrollment{Type: typ, Activation: lifecycle.ActivationPasscode}
		if typ == "smsotp" {
			in.Params = raw(`{"phone":"+15550000001"}`)
		}
		en, err := m.EnrollFactor(ctx, "test", user, in)
		if err != nil {
			t.Fatal(err)
		}
		var code string
		if typ == "totp" {
			code = codeOf(t, en, clk.Now())
		} else {
			code = sender.code(t)
		}

		hold, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hold.Exec(ctx, `SELECT 1 FROM factors WHERE id = $1 FOR UPDATE`, gate.Factor.ID); err != nil {
			t.Fatal(err)
		}
		gated.gate = gate.Factor.ID
		gated.runs.Store(0)
		activated, deleted := make(chan error, 1), make(chan error, 1)
		var got lifecycle.Factor
		go func() {
			var err error
			got, err = m.ActivateFactor(ctx, "test", user, en.Factor.ID, code)
			activated <- err
		}()
		waitForLock(t, waiting, "a", activated)
		go func() { deleted <- other.DeleteUser(ctx, "test", user) }()
		waitForLock(t, waiting, "d", deleted)
		if err := hold.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := testwait.Recv(t, typ+": the activation", activated); err != nil || got.State != lifecycle.FactorActive {
			t.Errorf("%s: the activation beside its user's delete: %+v, %v; want it active", typ, got, err)
		}
		if err := testwait.Recv(t, typ+": the delete", deleted); err != nil {
			t.Errorf("%s: the delete of the user: %v", typ, err)
		}
		if n := gated.runs.Load(); n != 1 {
			t.Errorf("%s: the activation's unit ran %d times; want once (a deadlock's victim runs again)", typ, n)
		}
		gated.gate = ""
		if _, err := other.GetUser(ctx, user); err == nil {
			t.Errorf("%s: the user is still there", typ)
		}
	}
}

// waitForLock polls until the store of app waits for a lock; done must not answer first.
func waitForLock(t *testing.T, waiting func(string) bool, app string, done chan error) {
	t.Helper()
	testwait.Until(t, app+" waiting for a lock", time.Millisecond, func() bool {
		if waiting(app) {
			return true
		}
		select {
		case err := <-done:
			t.Fatalf("%s did not wait for a lock: %v", app, err)
		default:
		}
		return false
	})
}
