package builtin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// listedBefore is a store that runs between, once, after the next list of a user's
// factors is read and before it is returned: another enrollment (another replica, or
// another connection) that commits between an enrollment's count and its write.
type listedBefore struct {
	store.Store
	between func()
}

func (s *listedBefore) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	fs, err := s.Store.ListFactors(ctx, userID)
	if f := s.between; f != nil {
		s.between = nil
		f()
	}
	return fs, err
}

// Two enrollments side by side, each counting the factors before the other's commit,
// cannot take a user beyond builtin.maxFactorsPerUser: the bound is held where the
// factor is written. Both were stored, one factor over the bound.
func TestMaxFactorsPerUserHeldAgainstConcurrentEnrollment(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &listedBefore{Store: st}
		f := newEngineFixture(t, hooked, func(c *engineConfig) { c.set("maxFactorsPerUser", 2) })
		f.enroll(t, "totp", "alice", "name", "one")
		var inner error
		hooked.between = func() {
			_, inner = f.engine.Enroll(ctx, enrollment("totp", "alice", "name", "two"))
		}
		_, outer := f.engine.Enroll(ctx, enrollment("totp", "alice", "name", "three"))
		if inner != nil {
			t.Fatalf("the enrollment between: %v", inner)
		}
		if !errors.Is(outer, builtin.ErrTooManyFactors) {
			t.Errorf("the enrollment that counted before the other's commit: %v, want %v", outer, builtin.ErrTooManyFactors)
		}
		if list, _ := st.ListFactors(ctx, "u-alice"); len(list) != 2 {
			t.Errorf("alice has %d factors, the most allowed is 2", len(list))
		}
	})
}
