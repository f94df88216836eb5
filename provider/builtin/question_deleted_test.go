package builtin_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// deletedAfterDecision is a store on which a factor is deleted (a reset) once a
// validation's deciding unit has committed, before the engine's write after it.
type deletedAfterDecision struct {
	store.Store
	armed bool
}

func (s *deletedAfterDecision) UpdateFactorParams(ctx context.Context, id string, label *string, params map[string]string, now time.Time) error {
	if s.armed {
		s.armed = false
		if err := s.Store.DeleteFactor(ctx, id); err != nil {
			return err
		}
	}
	return s.Store.UpdateFactorParams(ctx, id, label, params, now)
}

// TestQuestionAnsweredThenDeleted: the right answer to a security question is
// SUCCESS once its unit has committed it (the challenge SUCCESS, the record SUCCESS), even
// when the factor is deleted before the question asked is cleared. Before, the clearing's
// ErrNotFound came back as a fault: a 500 to Verify over a committed SUCCESS, whose retry
// then found the challenge used and was FAILED.
func TestQuestionAnsweredThenDeleted(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		del := &deletedAfterDecision{Store: st}
		f := newEngineFixture(t, del, nil)
		q := f.enrollQuestions(t, "bob")
		out := f.initiate(t, "bob", "question", q)
		question := out.Attributes["question"].(string)
		answer := answers[question]
		if question == "In which city were you born?" {
			answer = "são paulo" // the fixture's is wrong: the accent matters
		}
		del.armed = true
		got, err := f.engine.Validate(ctx, provider.Request{Capability: "question", ID: q, TransactionID: out.TransactionID,
			Username: "bob", Passvalue: answer})
		if err != nil || got.Status != provider.StatusSuccess {
			t.Errorf("the right answer, the factor deleted after its unit: %s %q, %v; want SUCCESS", got.Status, got.Reason, err)
		}
	})
}
