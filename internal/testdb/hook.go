package testdb

import (
	"context"

	"github.com/emfa/emfa/store"
)

// BeforeUserChanges is a store whose next batch of user changes first runs Before (once):
// another process's change committed after the caller read a user and before its write,
// which is how tests force that interleaving without timing.
type BeforeUserChanges struct {
	store.Store
	Before func()
}

func (s *BeforeUserChanges) ApplyUserChanges(ctx context.Context, cs []store.UserChange) []error {
	if f := s.Before; f != nil {
		s.Before = nil
		f()
	}
	return s.Store.ApplyUserChanges(ctx, cs)
}
