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

// TestCodeForAFactorDeletedMeanwhile: a TOTP or HOTP code, right or wrong,
// checked against a factor deleted since the validation read it is FAILED, as the same
// code a moment later is (unknown factor), and as a factor disabled meanwhile is. Before,
// the store's ErrNotFound from the counter's compare-and-set, or from counting the
// failure, came back as a fault: a 500 to Verify.
func TestCodeForAFactorDeletedMeanwhile(t *testing.T) {
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

// deletedMeanwhileTx is deletedMeanwhile for a challenge's validation, which reads the
// factor with its transaction.
type deletedMeanwhileTx struct {
	store.Store
	armed bool
}

func (s *deletedMeanwhileTx) GetFactorUserAndTransaction(ctx context.Context, id, name, txID string) (store.Factor, store.User, store.Transaction, error) {
	f, u, tx, err := s.Store.GetFactorUserAndTransaction(ctx, id, name, txID)
	if err == nil && s.armed {
		s.armed = false
		err = s.Store.DeleteFactor(ctx, id)
	}
	return f, u, tx, err
}

// TestAnswerForAFactorDeletedMeanwhile: the right code, or the right answer, to
// the challenge of a factor deleted since the validation read it is FAILED, and the
// challenge ends, as for a factor disabled meanwhile; before, clearing the deleted
// factor's failures found no row, and the validation failed as a fault (a 500 to
// Verify). A wrong one is FAILED as ever.
func TestAnswerForAFactorDeletedMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		del := &deletedMeanwhileTx{Store: st}
		f := newEngineFixture(t, del, nil)
		ctx := context.Background()
		sms := f.enrollSMS(t, "alice", "+15551230123")
		out := f.initiate(t, "alice", "smsotp", sms)
		del.armed = true
		got, err := f.engine.Validate(ctx, provider.Request{Capability: "smsotp", ID: sms, TransactionID: out.TransactionID, Username: "alice", Passvalue: f.sms.last(t).Code})
		if err != nil || got.Status != provider.StatusFailed {
			t.Errorf("the right code for a factor deleted meanwhile: %s %q, %v; want FAILED", got.Status, got.Reason, err)
		}

		q := f.enrollQuestions(t, "bob")
		out = f.initiate(t, "bob", "question", q)
		answer := answers[out.Attributes["question"].(string)]
		if out.Attributes["question"] == "In which city were you born?" {
			answer = "são paulo"
		}
		del.armed = true
		got, err = f.engine.Validate(ctx, provider.Request{Capability: "question", ID: q, TransactionID: out.TransactionID, Username: "bob", Passvalue: answer})
		if err != nil || got.Status != provider.StatusFailed {
			t.Errorf("the right answer for a factor deleted meanwhile: %s %q, %v; want FAILED", got.Status, got.Reason, err)
		}
	})
}
