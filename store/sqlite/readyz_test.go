package sqlite_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// TestPingBusyWriter: a database file whose one writer connection is held by a long
// write (an import, a large sweep) still answers: reads go on through the read pool and
// writes queue for the writer. /readyz (the store's Ping, given 2 s) must not answer 503
// then, taking a healthy replica out of rotation for as long as the write runs. Before,
// Ping waited for the writer's connection until its deadline and failed as if the
// database were unreachable.
func TestPingBusyWriter(t *testing.T) {
	s := open(t, fileDSN(t))
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping of an idle store: %v", err)
	}
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(w store.Writer) error {
			// A statement, so that the unit's transaction holds the writer.
			if _, err := w.GetTransaction(ctx, "nothing"); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	testwait.Recv(t, "the unit to hold its connection", held)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := s.Ping(pctx)
	cancel()
	close(release)
	if werr := testwait.Recv(t, "the long write to end", done); werr != nil {
		t.Errorf("long write: %v", werr)
	}
	if err != nil {
		t.Errorf("ping while the writer runs a long write, the database answering: %v, want ready", err)
	}
}
