package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// deletedBeforeUnit is a store on which a factor is deleted (a reset) just before the
// unit after the next one: a validation's deciding unit commits, then the factor goes.
type deletedBeforeUnit struct {
	store.Store
	id    string
	units int // units to let through first; -1: disarmed
}

func (s *deletedBeforeUnit) Update(ctx context.Context, fn func(store.Writer) error) error {
	if s.units == 0 {
		if err := s.Store.DeleteFactor(ctx, s.id); err != nil {
			return err
		}
	}
	if s.units >= 0 {
		s.units--
	}
	return s.Store.Update(ctx, fn)
}

// TestFirstUseThenDeleted: the right code of a factor pending activation on its
// first use is SUCCESS once its unit has committed it, even when the factor is deleted
// before its activation: a fault answered over the committed SUCCESS had Verify retry
// into a challenge already used, FAILED.
func TestFirstUseThenDeleted(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		del := &deletedBeforeUnit{Store: st, units: -1}
		f := newEngineFixture(t, del, nil)
		id := enrollAs(t, f, builtin.ActivationOnFirstUse, "smsotp", "alice", "phone", "+15550001111").Factor.ID
		out := f.initiate(t, "alice", "smsotp", id)
		del.id, del.units = id, 1
		got, err := f.engine.Validate(context.Background(), provider.Request{Capability: "smsotp", ID: id, Username: "alice",
			TransactionID: out.TransactionID, Passvalue: f.sms.last(t).Code})
		if err != nil || got.Status != provider.StatusSuccess {
			t.Errorf("the right code, the factor deleted before its activation: %s %q, %v; want SUCCESS", got.Status, got.Reason, err)
		}
	})
}
