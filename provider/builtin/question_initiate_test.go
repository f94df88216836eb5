package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestQuestionInitiateDeletedMeanwhile: a question's initiate for a factor
// deleted since it was read is FAILED, as the same initiate a moment later is (unknown
// factor); before, drawing the question to ask found no row, and the initiate failed as a
// fault (a 500 to Verify).
func TestQuestionInitiateDeletedMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		del := &deletedMeanwhile{Store: st}
		f := newEngineFixture(t, del, nil)
		q := f.enrollQuestions(t, "bob")
		del.armed = true
		got, err := f.engine.Initiate(ctx, provider.Request{Capability: "question", ID: q, Username: "bob"})
		if err != nil || got.Status != provider.StatusFailed {
			t.Errorf("initiate of a question factor deleted meanwhile: %s %q, %v; want FAILED", got.Status, got.Reason, err)
		}
	})
}
