package testdb

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/emfa/emfa/store"
)

// ErrAuditRefused is what a RefusingAudits store's units get for an audit record while
// its Refuse is set.
var ErrAuditRefused = errors.New("audit refused")

// RefusingAudits is a store whose units (Update) cannot write an audit record while Refuse
// is set: a test of a change that must commit with its record, or not at all.
type RefusingAudits struct {
	store.Store
	Refuse atomic.Bool
}

// Update runs fn with a writer that refuses audit records while s.Refuse is set.
func (s *RefusingAudits) Update(ctx context.Context, fn func(w store.Writer) error) error {
	return s.Store.Update(ctx, func(w store.Writer) error { return fn(refusingWriter{w, s}) })
}

type refusingWriter struct {
	store.Writer
	s *RefusingAudits
}

func (w refusingWriter) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	if w.s.Refuse.Load() {
		return ErrAuditRefused
	}
	return w.Writer.AppendAudit(ctx, e)
}
