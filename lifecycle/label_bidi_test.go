package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
)

// TestLabelBidiControls: a factor's label is shown as deviceName at every sign-in, on
// the self-service page and to administrators. A bidirectional control (U+202E
// RIGHT-TO-LEFT OVERRIDE and its kin) reorders what is shown, so that one factor's name
// reads as another's; a device's own name is refused them (builtin.Devices.Register),
// and now a label set by enrollment (admin API, import) or rename is too. Right-to-left
// text is no control, and stays.
func TestLabelBidiControls(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, testdb.Memory(t))
	addAlice(t, m)
	for _, label := range []string{"phone\u202Eenoh", "\u2067work\u2069", "a\u200Fb", "x\u061Cy"} {
		_, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp", Label: label})
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Field != "label" {
			t.Errorf("enroll with label %q: %v, want a refusal of the label", label, err)
		}
	}
	en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp", Label: "הטלפון של אליס"})
	if err != nil {
		t.Fatalf("a right-to-left label: %v", err)
	}
	if _, err := m.RenameFactor(ctx, "test", "alice", en.Factor.ID, "good\u202Ephone"); err == nil {
		t.Error("a rename to a label with U+202E was accepted")
	}
	if f, err := m.RenameFactor(ctx, "test", "alice", en.Factor.ID, "هاتف أليس"); err != nil || f.Label != "هاتف أليس" {
		t.Errorf("a rename to Arabic text: %+v %v", f, err)
	}
}
