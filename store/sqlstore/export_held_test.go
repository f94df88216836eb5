package sqlstore

import (
	"context"
	"strings"

	"github.com/emfa/emfa/store"
)

// RunBatchFailing is RunBatch with every statement that begins with prefix and whose
// first argument is arg failing with err, as a statement the disk or the file refuses
// (SQLITE_FULL, SQLITE_IOERR) does.
func RunBatchFailing(s *Store, prefix string, arg any, err error, fns ...func(w store.Writer) error) (errs []error, panics []any) {
	s.g.traced = func(q Execer) Execer { return failingQuerier{q, prefix, arg, err} }
	defer func() { s.g.traced = nil }()
	batch := make([]*unit, len(fns))
	for i, fn := range fns {
		batch[i] = &unit{ctx: context.Background(), fn: func(w *writer) error { return fn(w) }, answered: make(chan struct{})}
	}
	s.g.commit(batch)
	for _, u := range batch {
		errs = append(errs, u.err)
		panics = append(panics, u.panicked)
	}
	return errs, panics
}

// failingQuerier fails the statements of q that begin with prefix, arg their first argument.
type failingQuerier struct {
	q      Execer
	prefix string
	arg    any
	err    error
}

func (f failingQuerier) fails(q string, args []any) bool {
	return strings.HasPrefix(strings.TrimSpace(q), f.prefix) && len(args) > 0 && args[0] == f.arg
}

func (f failingQuerier) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if f.fails(q, args) {
		return 0, f.err
	}
	return f.q.Exec(ctx, q, args...)
}

func (f failingQuerier) QueryRow(ctx context.Context, q string, args ...any) Row {
	return f.q.QueryRow(ctx, q, args...)
}

func (f failingQuerier) Later(ctx context.Context, q string, args ...any) error {
	if f.fails(q, args) {
		return f.err
	}
	return f.q.Later(ctx, q, args...)
}
