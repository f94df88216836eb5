package builtin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// validatedMeanwhile is a store on which, just after a factor is read, a validation
// elsewhere accepts the token's code at counter (once).
type validatedMeanwhile struct {
	store.Store
	counter int64
	done    bool
}

func (s *validatedMeanwhile) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	f, err := s.Store.GetFactor(ctx, id)
	if err == nil && !s.done {
		s.done = true
		err = s.Store.AdvanceCounter(ctx, id, s.counter, f.UpdatedAt)
	}
	return f, err
}

// TestResyncRacedByAValidation: a resynchronisation whose codes a validation
// accepted, or passed, between its read of the factor and its write is refused as not
// synchronised (422, the codes no longer after the last accepted counter), as the same
// codes sent a moment later are. Before, the store's refusal came back as a fault
// ("…: replayed code"), which the admin API answers 500.
func TestResyncRacedByAValidation(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		raced := &validatedMeanwhile{Store: st, counter: 600}
		f := newEngineFixture(t, raced, nil)
		id := f.enrollHOTP(t, "alice", 0)
		_, err := f.engine.ResyncHOTP(context.Background(), id, hotpCode(500), hotpCode(501), nil)
		if !errors.Is(err, builtin.ErrNotSynchronised) {
			t.Errorf("resync raced by a validation: %v; want it not synchronised", err)
		}
		expect(t, "the token's next code", f.validate(t, "alice", "hotp", id, "", hotpCode(601)), provider.StatusSuccess, "accepted")
	})
}
