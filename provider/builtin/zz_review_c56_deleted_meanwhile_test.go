package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// deletedMeanwhile is a store on which a factor is deleted (an administrator's reset)
// just after a validation has read it.
type deletedMeanwhile struct {
	store.Store
	armed bool
}

func (s *deletedMeanwhile) GetFactorAndUser(ctx context.Context, id, name string) (store.Factor, store.User, error) {
	f, u, err := s.Store.GetFactorAndUser(ctx, id, name)
	if err == nil && s.armed {
		s.armed = false
		err = s.Store.DeleteFactor(ctx, id)
	}
	return f, u, err
}

// TestReviewC56CodeForAFactorDeletedMeanwhile: a TOTP or HOTP code, right or wrong,
// checked against a factor deleted since the validation read it is FAILED, as the same
// code a moment later is (unknown factor), and as a factor disabled meanwhile is. Before,
// the store's ErrNotFound from the counter's compare-and-set, or from counting the
// failure, came back as a fault: a 500 to Verify.
func TestReviewC56CodeForAFactorDeletedMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		del := &deletedMeanwhile{Store: st}
		f := newEngineFixture(t, del, nil)
		for _, c := range []struct{ what, code string }{{"right", hotpCode(0)}, {"wrong", otherCode(hotpCode(0))}} {
			id := f.enrollHOTP(t, "alice", 0)
			del.armed = true
			out, err := f.engine.Validate(context.Background(), provider.Request{Capability: "hotp", ID: id, Username: "alice", Passvalue: c.code})
			if err != nil || out.Status != provider.StatusFailed {
				t.Errorf("a %s code for a factor deleted meanwhile: %s %q, %v; want FAILED", c.what, out.Status, out.Reason, err)
			}
		}
	})
}
