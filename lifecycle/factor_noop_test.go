package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// An audit row is the record of a change: enabling a factor that is active, or disabling
// one that is disabled already, changes nothing, and wrote an admin.factors.enable
// (disable) SUCCESS row all the same, so that the trail showed a factor disabled twice,
// or "enabled" by someone who did nothing. A user's state set to what it is writes
// nothing (SetUserState); a factor's must not either.
func TestFactorStateNoop(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		en := enrollTOTP(t, m)
		id := en.Factor.ID

		f, err := m.SetFactorState(ctx, "desk", "alice", id, false)
		if err != nil || f.State != "active" {
			t.Fatalf("enable an active factor: %+v %v", f, err)
		}
		if n := len(auditOf(t, m, "admin.factors.enable").Events); n != 0 {
			t.Errorf("enabling an active factor wrote %d record(s), want none", n)
		}
		for range 2 {
			if f, err = m.SetFactorState(ctx, "desk", "alice", id, true); err != nil || f.State != "disabled" {
				t.Fatalf("disable: %+v %v", f, err)
			}
		}
		if n := len(auditOf(t, m, "admin.factors.disable").Events); n != 1 {
			t.Errorf("two disables wrote %d record(s), want 1", n)
		}
		if f, err = m.SetFactorState(ctx, "desk", "alice", id, false); err != nil || f.State != "active" {
			t.Fatalf("enable: %+v %v", f, err)
		}
		if n := len(auditOf(t, m, "admin.factors.enable").Events); n != 1 {
			t.Errorf("enabling the disabled factor wrote %d record(s), want 1", n)
		}
	})
}

// A rename to the label the factor has changes nothing: it wrote an admin.factors.rename
// row all the same (an idempotent retry of a PATCH, a script setting labels it reads).
func TestFactorRenameNoop(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		id := enrollTOTP(t, m).Factor.ID
		for range 2 {
			if f, err := m.RenameFactor(ctx, "desk", "alice", id, "Laptop"); err != nil || f.Label != "Laptop" {
				t.Fatalf("rename: %+v %v", f, err)
			}
		}
		if n := len(auditOf(t, m, "admin.factors.rename").Events); n != 1 {
			t.Errorf("two renames to one label wrote %d record(s), want 1", n)
		}
	})
}
