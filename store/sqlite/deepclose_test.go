package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// deepThen calls fn depth frames down.
//
//go:noinline
func deepThen(depth int, fn func() error) error {
	if depth == 0 {
		return fn()
	}
	return deepThen(depth-1, fn)
}

// TestCloseDeepInsideABatch: Close looked for the batch's leader (group.lead)
// among the first 1024 frames of its goroutine's stack only: called from a unit's fn
// deeper than that above lead (a recursive walk, a deep middleware chain), it did not see
// it, and waited for its own batch: a hang. It looks through the whole stack.
func TestCloseDeepInsideABatch(t *testing.T) {
	s, _, _ := openFaulty(t)
	ctx := context.Background()
	inside := make(chan error, 1)
	leader := make(chan error, 1)
	go func() {
		leader <- s.Update(ctx, func(w store.Writer) error {
			if err := audit(ctx, "deep")(w); err != nil {
				return err
			}
			inside <- deepThen(1500, s.Close)
			return nil
		})
	}()
	if err := testwait.Recv(t, "Close deep inside the batch to return", inside); !errors.Is(err, sqlstore.ErrCloseInBatch) {
		t.Errorf("Close deep inside the batch: %v, want sqlstore.ErrCloseInBatch", err)
	}
	if err := testwait.Recv(t, "the unit that called Close to be answered", leader); err != nil {
		t.Errorf("the unit that called Close: %v", err)
	}
	if n := audits(t, s, "deep"); n != 1 {
		t.Errorf("%d rows of the unit, want 1", n)
	}
}
