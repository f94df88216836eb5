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

// AfterUserChanges is a store whose next batch of user changes runs After (once) once it
// is committed: another process's work between that commit and what the caller does next.
type AfterUserChanges struct {
	store.Store
	After func()
}

func (s *AfterUserChanges) ApplyUserChanges(ctx context.Context, cs []store.UserChange) []error {
	errs := s.Store.ApplyUserChanges(ctx, cs)
	if f := s.After; f != nil {
		s.After = nil
		f()
	}
	return errs
}
