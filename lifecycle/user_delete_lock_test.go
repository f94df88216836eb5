package lifecycle_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// gatedWriter waits between a unit's two writes of a factor (an activation: the code's
// check, then the activation; a resync: the failures cleared, then the counter), before
// the second, on the row of factor gate (which the test holds).
type gatedWriter struct {
	store.Writer
	gate  string
	wrote bool // a factor, in this run
}

// wait holds the unit on the gate's row if it wrote a factor already.
func (w *gatedWriter) wait(ctx context.Context, now time.Time) error {
	if !w.wrote {
		w.wrote = true
		return nil
	}
	return w.Writer.UpdateFactorParams(ctx, w.gate, nil, map[string]string{}, now)
}

func (w *gatedWriter) AdvanceCounter(ctx context.Context, id string, next int64, now time.Time) error {
	if err := w.wait(ctx, now); err != nil {
		return err
	}
	return w.Writer.AdvanceCounter(ctx, id, next, now)
}

func (w *gatedWriter) ClearFailuresUnlocked(ctx context.Context, id string, now time.Time) error {
	if err := w.wait(ctx, now); err != nil {
		return err
	}
	return w.Writer.ClearFailuresUnlocked(ctx, id, now)
}

func (w *gatedWriter) ResetFailures(ctx context.Context, id string, now time.Time) error {
	if err := w.wait(ctx, now); err != nil {
		return err
	}
	return w.Writer.ResetFailures(ctx, id, now)
}

func (w *gatedWriter) ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error {
	if err := w.wait(ctx, now); err != nil {
		return err
	}
	return w.Writer.ActivateFactor(ctx, id, params, now)
}

// TestFactorWrittenTwiceBesideUserDeleteDoesNotDeadlock: an activation (the admin API's,
// of a TOTP seed and of a texted code), or an HOTP token's resync, and the deletion of
// its user at once on PostgreSQL both go through, one after the other, and PostgreSQL
// aborts neither as deadlocked. Each writes the factor twice in one unit (the code's
// check, then the activation; the failures cleared, then the counter), and PostgreSQL
// checks factors.user_id's foreign key again at the second write, taking the user's row
// FOR KEY SHARE; the delete takes the user's row, then its factors (ON DELETE CASCADE).
// Here the unit waits between its two writes while the delete starts: each held what the
// other waited for (40P01), found in lifecycle's TestTransitionRaces. The unit's session
// looks for a deadlock after 50 ms, the delete's after 30 s, so that one would be the
// unit's: run again, it found its factor gone and was refused, where the unit holding
// its user's row first commits, and the delete waits for it.
func TestFactorWrittenTwiceBesideUserDeleteDoesNotDeadlock(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	ctx := context.Background()
	app := "lcr" + time.Now().Format("150405.000000")
	open := func(name, deadlockTimeout string) store.Store { return sv.OpenAs(t, dsn, app+name, deadlockTimeout) }
	gated := &testdb.Gated{Store: open("a", "50ms"),
		Wrap: func(w store.Writer, gate string) store.Writer { return &gatedWriter{Writer: w, gate: gate} }}
	sender := &keptSender{}
	m, clk := newManagerSending(t, gated, sender)
	other, _ := newManager(t, open("d", "30s"))

	if _, err := other.CreateUser(ctx, "test", lifecycle.UserInput{Name: "gate"}); err != nil {
		t.Fatal(err)
	}
	gate, err := other.EnrollFactor(ctx, "test", "gate", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
	if err != nil {
		t.Fatal(err)
	}
	seed := []byte("12345678901234567890")
	secret, _ := json.Marshal(builtin.EncodeSecret(seed))
	hotp := func(c uint64) string { return builtin.HOTP(builtin.SHA1, seed, c, 6) }
	for _, c := range []struct {
		name string
		in   lifecycle.Enrollment
		run  func(user string, en lifecycle.Enrolled) (lifecycle.Factor, error)
	}{
		{"activate totp", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationPasscode},
			func(user string, en lifecycle.Enrolled) (lifecycle.Factor, error) {
				return m.ActivateFactor(ctx, "test", user, en.Factor.ID, codeOf(t, en, clk.Now()))
			}},
		{"activate smsotp", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationPasscode, Params: raw(`{"phone":"+15550000001"}`)},
			func(user string, en lifecycle.Enrolled) (lifecycle.Factor, error) {
				return m.ActivateFactor(ctx, "test", user, en.Factor.ID, sender.code(t))
			}},
		{"resync hotp", lifecycle.Enrollment{Type: "hotp", Activation: lifecycle.ActivationImmediate,
			Params: map[string]json.RawMessage{"secret": secret, "counter": json.RawMessage("0")}},
			func(user string, en lifecycle.Enrolled) (lifecycle.Factor, error) {
				f, _, err := m.ResyncFactor(ctx, "test", user, en.Factor.ID, []string{hotp(500), hotp(501)})
				return f, err
			}},
	} {
		user := "alice-" + c.name[len(c.name)-4:]
		if _, err := other.CreateUser(ctx, "test", lifecycle.UserInput{Name: user}); err != nil {
			t.Fatal(err)
		}
		en, err := m.EnrollFactor(ctx, "test", user, c.in)
		if err != nil {
			t.Fatal(err)
		}
		release := sv.Hold(t, dsn, `SELECT 1 FROM factors WHERE id = $1 FOR UPDATE`, gate.Factor.ID)
		gated.Gate = gate.Factor.ID
		gated.Runs.Store(0)
		done, deleted := make(chan error, 1), make(chan error, 1)
		var got lifecycle.Factor
		go func() {
			var err error
			got, err = c.run(user, en)
			done <- err
		}()
		sv.WaitForLock(t, app+"a", done)
		go func() { deleted <- other.DeleteUser(ctx, "test", user) }()
		sv.WaitForLock(t, app+"d", deleted)
		release()
		if err := testwait.Recv(t, c.name, done); err != nil || got.State != lifecycle.FactorActive {
			t.Errorf("%s beside its user's delete: %+v, %v; want it done, the factor active", c.name, got, err)
		}
		if err := testwait.Recv(t, c.name+": the delete", deleted); err != nil {
			t.Errorf("%s: the delete of the user: %v", c.name, err)
		}
		if n := gated.Runs.Load(); n != 1 {
			t.Errorf("%s: its unit ran %d times; want once (a deadlock's victim runs again)", c.name, n)
		}
		gated.Gate = ""
		if _, err := other.GetUser(ctx, user); err == nil {
			t.Errorf("%s: the user is still there", c.name)
		}
	}
}
