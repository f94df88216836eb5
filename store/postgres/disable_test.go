package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// TestCodeWaitingSeesUserDisabled: a code's deciding statement (AdvanceCounter for
// TOTP/HOTP, ClearFailuresUnlocked for a challenge's code) that waits for its factor's
// row (another unit holds it) while a disable of the user commits must not then pass:
// the disable has returned to the admin (or SCIM's active=false to the directory), and a
// code passing after it signs a disabled user in.
func TestCodeWaitingSeesUserDisabled(t *testing.T) {
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	dsn := sv.SchemaDSN(t, schema)
	ctx := context.Background()
	open, waiting := lockStores(t, sv, dsn)
	app := "c12" + time.Now().Format("150405.000000")
	s, validator, changer := open(app+"s"), open(app+"v"), open(app+"c")
	t0 := time.UnixMilli(1_800_000_000_000)
	for i, c := range []struct {
		name   string
		decide func(w store.Writer, fid string) error
	}{
		{"AdvanceCounter", func(w store.Writer, fid string) error { return w.AdvanceCounter(ctx, fid, 1, t0) }},
		{"ClearFailuresUnlocked", func(w store.Writer, fid string) error { return w.ClearFailuresUnlocked(ctx, fid, t0) }},
	} {
		uid, user, fid := fmt.Sprint("u", i), fmt.Sprint("user", i), fmt.Sprint("f", i)
		if err := s.CreateUser(ctx, store.User{ID: uid, Name: user, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateFactor(ctx, store.Factor{ID: fid, UserID: uid, Type: "totp", State: store.FactorActive,
			Params: map[string]string{}, Counter: 0, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		decided, changed := make(chan error, 1), make(chan error, 1)
		changedFirst := false
		err := s.Update(ctx, func(w store.Writer) error {
			// The factor's row held until this unit commits.
			if err := w.ResetFailures(ctx, fid, t0); err != nil {
				return err
			}
			go func() {
				decided <- validator.Update(ctx, func(w store.Writer) error { return c.decide(w, fid) })
			}()
			testwait.Until(t, c.name+": the decision waiting for the factor's row", time.Millisecond, func() bool {
				if waiting(app + "v") {
					return true
				}
				select {
				case err := <-decided:
					t.Fatalf("%s: the decision did not wait for the factor's row: %v", c.name, err)
				default:
				}
				return false
			})
			// Until the disable commits beside the waiting decision, or waits for it.
			changedFirst = changeBeside(t, c.name+": the disable", changed, func() error { return changer.SetUserDisabled(ctx, user, true) }, func() bool { return waiting(app + "c") })
			return nil
		})
		if err != nil {
			t.Fatal(c.name, err)
		}
		errD, errC := testwait.Recv(t, c.name+": the decision to end", decided), testwait.Recv(t, c.name+": the disable to end", changed)
		if errC != nil {
			t.Fatalf("%s: disable: %v", c.name, errC)
		}
		if changedFirst && !errors.Is(errD, store.ErrInactive) {
			t.Errorf("%s waiting for its factor's row while the user's disable committed: %v, want %v", c.name, errD, store.ErrInactive)
		}
		// The disable waited (for the factor's row, which it writes: its user_disabled): the
		// decision may go first and pass, the disable writing the factor after it, or after
		// the disable and find it. A decision that passed with the disable's write before
		// its own is the failure.
		switch {
		case !changedFirst && errD == nil:
			var factorBy, userBy string
			q := `SELECT f.xmin::text, u.xmin::text FROM ` + pgx.Identifier{schema, "factors"}.Sanitize() + ` f JOIN ` +
				pgx.Identifier{schema, "users"}.Sanitize() + ` u ON u.id = f.user_id WHERE f.id = $1`
			if err := sv.Admin.QueryRow(ctx, q, fid).Scan(&factorBy, &userBy); err != nil {
				t.Fatal(err)
			}
			if factorBy != userBy {
				t.Errorf("%s passed, and the disable (transaction %s) did not write the factor after it (last written by %s)", c.name, userBy, factorBy)
			}
		case !changedFirst && !errors.Is(errD, store.ErrInactive):
			t.Errorf("%s: the disable waited, and the decision then: %v, want nil or %v", c.name, errD, store.ErrInactive)
		}
	}
}
