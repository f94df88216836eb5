package sqlstore

import (
	"context"
	"strings"

	"github.com/emfa/emfa/store"
)

// RunBatch commits fns as one batch of s's group writer, as its goroutine would had
// they queued together, and returns each unit's error and panic and the statements the
// batch ran (by their first word), for tests. Call it while s makes no other write.
func RunBatch(s *Store, fns ...func(w store.Writer) error) (errs []error, panics []any, statements map[string]int) {
	statements = map[string]int{}
	s.g.traced = func(q Execer) Execer { return countingQuerier{q, statements} }
	defer func() { s.g.traced = nil }()
	batch := make([]*unit, len(fns))
	for i, fn := range fns {
		batch[i] = &unit{ctx: context.Background(), fn: func(w *writer) error { return fn(w) }, answered: make(chan struct{})}
	}
	s.g.commit(batch)
	s.stmts.prepareMissed(context.Background(), s.w)
	for _, u := range batch {
		errs = append(errs, u.err)
		panics = append(panics, u.panicked)
	}
	return errs, panics, statements
}

// countingQuerier counts the statements run through q by their first word.
type countingQuerier struct {
	q Execer
	n map[string]int
}

func (c countingQuerier) count(q string) {
	w, _, _ := strings.Cut(strings.TrimSpace(q), " ")
	c.n[strings.ToUpper(w)]++
	c.n[""]++
}

func (c countingQuerier) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c.count(q)
	return c.q.Exec(ctx, q, args...)
}

func (c countingQuerier) QueryRow(ctx context.Context, q string, args ...any) Row {
	c.count(q)
	return c.q.QueryRow(ctx, q, args...)
}

func (c countingQuerier) Later(ctx context.Context, q string, args ...any) error {
	c.count(q)
	return c.q.Later(ctx, q, args...)
}
