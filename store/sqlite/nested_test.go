package sqlite

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// TestCloseEndsANestedPoolWrite: a unit's fn that writes on the store's pool
// outside the group (CreateGroup), or in memory reads, waits for the writer's one
// connection, which its own batch holds: it never gets it. That hang is the fn's; but
// Close, called then from another goroutine, waited for that batch to be answered and
// hung with it. Close now closes the pools before it waits: the nested write fails
// ("database is closed"), its unit with it, and Close returns; the unit's caller is told
// it failed, and no descriptor is left on the file.
func TestCloseEndsANestedPoolWrite(t *testing.T) {
	s, _, _ := openFaulty(t)
	ctx := context.Background()
	if err := s.Update(ctx, audit(ctx, "seed")); err != nil {
		t.Fatal(err)
	}
	in := make(chan struct{})
	outer := make(chan error, 1)
	go func() {
		outer <- s.Update(ctx, func(w store.Writer) error {
			if err := audit(ctx, "n-outer")(w); err != nil {
				return err
			}
			close(in)
			return s.CreateGroup(ctx, store.Group{ID: "g-nested", Name: "nested", CreatedAt: reviewAt, UpdatedAt: reviewAt})
		})
	}()
	testwait.Recv(t, "the unit to run", in)
	testwait.Until(t, "the nested write to wait for the writer's connection", 0, func() bool { return s.w.Stats().WaitCount > 0 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if err := testwait.Recv(t, "Close to return", closed); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := testwait.Recv(t, "the unit to be answered", outer); err == nil {
		t.Error("the unit whose nested write failed was told it committed")
	}
}
