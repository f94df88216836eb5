package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// A help desk pasting the right code with a space or a line end around it (as a terminal
// or a chat copies it) was told invalid_passcode, "wrong, expired or already used", and
// the try counted toward the factor's lockout. The admin API refuses spaces around a
// value as bad input (checkText): so is a passcode, 400 invalid_field, nothing counted,
// and the same code without them then activates the factor.
func TestPasscodeSpaces(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"})
		if err != nil {
			t.Fatal(err)
		}
		code := codeOf(t, en, clk.Now())
		_, err = m.ActivateFactor(ctx, "desk", "alice", en.Factor.ID, " "+code+"\n")
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Kind != lifecycle.Invalid || le.Field != "passcode" {
			t.Fatalf("a code with spaces around it: %v, want 400 invalid_field passcode", err)
		}
		if f, err := m.GetFactor(ctx, "alice", en.Factor.ID); err != nil || f.Failures != 0 {
			t.Fatalf("failures after the refused code: %+v %v", f, err)
		}
		if f, err := m.ActivateFactor(ctx, "desk", "alice", en.Factor.ID, code); err != nil || f.State != "active" {
			t.Fatalf("the code alone: %+v %v", f, err)
		}
	})
}
