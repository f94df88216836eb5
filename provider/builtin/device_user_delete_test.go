package builtin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// gatedRenameWriter waits on the row of factor gate (which the test holds) before it
// writes a factor's params and label (UpdateFactorParams): a device's registration, after
// it activated the factor.
type gatedRenameWriter struct {
	store.Writer
	gate string
}

func (w gatedRenameWriter) UpdateFactorParams(ctx context.Context, id string, label *string, params map[string]string, now time.Time) error {
	if id != w.gate {
		if err := w.Writer.UpdateFactorParams(ctx, w.gate, nil, map[string]string{}, now); err != nil {
			return err
		}
	}
	return w.Writer.UpdateFactorParams(ctx, id, label, params, now)
}

// TestDeviceRegistrationBesideUserDeleteDoesNotDeadlock: a phone registering, with its
// name, the push factor of a user being deleted at once on PostgreSQL, and that delete,
// both go through, one after the other, and PostgreSQL aborts neither as deadlocked. The
// registration's unit writes the factor twice (its activation, then its name), and
// PostgreSQL checks factors.user_id's foreign key again at the second write, taking the
// user's row FOR KEY SHARE after the factor's; the delete takes the user's row, then its
// factors (ON DELETE CASCADE). Here the registration waits between its two writes while
// the delete starts. Its session looks for a deadlock after 50 ms, the delete's after
// 30 s: it was the victim, ran again and found its code's factor gone.
func TestDeviceRegistrationBesideUserDeleteDoesNotDeadlock(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	ctx := context.Background()
	app := "lcd" + time.Now().Format("150405.000000")
	open := func(name, deadlockTimeout string) store.Store { return sv.OpenAs(t, dsn, app+name, deadlockTimeout) }
	gated := &testdb.Gated{Store: open("r", "50ms"),
		Wrap: func(w store.Writer, gate string) store.Writer { return gatedRenameWriter{Writer: w, gate: gate} }}
	deleter := open("d", "30s")
	f := newPushFixture(t, gated, false)
	gate := f.enroll(t, "bob")
	e := f.enroll(t, "alice")
	release := sv.Hold(t, dsn, `SELECT 1 FROM factors WHERE id = $1 FOR UPDATE`, gate.Factor.ID)

	gated.Gate = gate.Factor.ID
	registered, deleted := make(chan error, 1), make(chan error, 1)
	var id string
	pub := newDevicePublicKey(t)
	go func() {
		var err error
		id, err = f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub,
			Alg: builtin.AlgES256, Name: "Pixel"})
		registered <- err
	}()
	sv.WaitForLock(t, app+"r", registered)
	go func() {
		deleted <- deleter.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Delete: true, Now: f.clock.Now()}})[0]
	}()
	sv.WaitForLock(t, app+"d", deleted)
	release()
	if err := testwait.Recv(t, "the registration", registered); err != nil || id != e.Factor.ID {
		t.Errorf("the registration beside its user's delete: %q, %v; want factor %s registered", id, err, e.Factor.ID)
	}
	if err := testwait.Recv(t, "the delete", deleted); err != nil {
		t.Errorf("the delete of the user: %v", err)
	}
	if n := gated.Runs.Load(); n != 1 {
		t.Errorf("the registration's unit ran %d times; want once (a deadlock's victim runs again)", n)
	}
	if _, err := deleter.GetUser(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alice after her delete: %v; want not found", err)
	}
}
