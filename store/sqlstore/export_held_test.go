package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/emfa/emfa/store"
)

// RunBatchFailing is RunBatch with every statement that begins with prefix and whose
// first argument is arg failing with err, as a statement the disk or the file refuses
// (SQLITE_FULL, SQLITE_IOERR) does.
func RunBatchFailing(s *Store, prefix string, arg any, err error, fns ...func(w store.Writer) error) (errs []error, panics []any) {
	s.g.traced = func(q querier) querier { return failingQuerier{q, prefix, arg, err} }
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
	q      querier
	prefix string
	arg    any
	err    error
}

func (f failingQuerier) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if strings.HasPrefix(strings.TrimSpace(q), f.prefix) && len(args) > 0 && args[0] == f.arg {
		return nil, f.err
	}
	return f.q.ExecContext(ctx, q, args...)
}

func (f failingQuerier) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return f.q.QueryContext(ctx, q, args...)
}

func (f failingQuerier) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return f.q.QueryRowContext(ctx, q, args...)
}
