package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testfs"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestCloseInsideABatch: Close called on the goroutine that leads a batch, from
// a unit's fn or from the AfterCommit hook, waited for that batch to be answered, which
// the goroutine waiting never did: a hang, the units queued behind it with it. It returns
// sqlstore.ErrCloseInBatch at once, the store stays open, the unit that called it commits
// as its fn says, and each unit queued meanwhile is told the truth. A Close after, from
// outside, closes everything.
func TestCloseInsideABatch(t *testing.T) {
	for _, where := range []string{"unit", "after commit"} {
		t.Run(where, func(t *testing.T) {
			var s *Store
			var arm atomic.Bool
			hooked := make(chan error, 1)
			hook := func() {
				if arm.CompareAndSwap(true, false) {
					hooked <- s.Close()
				}
			}
			s, _, path := openFaulty(t, sqlstore.AfterCommit(hook))
			ctx := context.Background()
			if err := s.Update(ctx, audit(ctx, "seed")); err != nil {
				t.Fatal(err)
			}
			inside := make(chan error, 1)
			release := make(chan struct{})
			leader := make(chan error, 1)
			go func() {
				leader <- s.Update(ctx, func(w store.Writer) error {
					if err := audit(ctx, "c-leader")(w); err != nil {
						return err
					}
					<-release // the others queue meanwhile
					if where == "unit" {
						inside <- s.Close()
					} else {
						arm.Store(true) // this batch's hook closes
					}
					return nil
				})
			}()
			others := make(chan error, 3)
			for i := range 3 {
				go func() { others <- s.Update(ctx, audit(ctx, fmt.Sprint("c-other-", i, "."))) }()
			}
			time.Sleep(30 * time.Millisecond) // how they batch depends on it, nothing else
			close(release)
			closedIn := inside
			if where != "unit" {
				closedIn = hooked
			}
			if err := testwait.Recv(t, "Close called inside the batch to return", closedIn); !errors.Is(err, sqlstore.ErrCloseInBatch) {
				t.Errorf("Close inside the batch: %v, want sqlstore.ErrCloseInBatch", err)
			}
			if err := testwait.Recv(t, "the unit that called Close to be answered", leader); err != nil {
				t.Errorf("the unit that called Close: %v", err)
			}
			errs := []error{nil}
			for range 3 {
				errs = append(errs, testwait.Recv(t, "a unit queued behind to be answered", others))
			}
			if n := audits(t, s, "c-leader"); n != 1 {
				t.Errorf("%d rows of the unit that called Close, want 1", n)
			}
			if n := audits(t, s, "c-other-"); n != 3 {
				t.Errorf("%d rows of the 3 units queued behind, want 3 (errors %v)", n, errs)
			}
			for _, err := range errs {
				if err != nil {
					t.Errorf("a unit queued behind: %v", err)
				}
			}
			if err := s.Update(ctx, audit(ctx, "c-after")); err != nil {
				t.Errorf("the write after: the store was closed: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close from outside: %v", err)
			}
			if err := s.Update(ctx, audit(ctx, "c-closed")); err == nil {
				t.Error("a write after Close from outside succeeded")
			}
			if n := testfs.OpenFiles(t, path); n != 0 {
				t.Errorf("%d descriptors left on the database file after Close", n)
			}
		})
	}
}
