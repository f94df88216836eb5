package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// TestPingBusyPool: a replica whose every pooled connection is held by a long
// transaction, on a database that answers, is busy, not down. /readyz (the store's Ping,
// given 2 s) must not answer 503 then: a load balancer would take out every replica of a
// loaded database at once. Before, Ping waited for a pooled connection until its deadline
// and failed as if the database were unreachable.
func TestPingBusyPool(t *testing.T) {
	sv := testdb.Connect(t)
	ctx := context.Background()
	const conns = 2
	st, err := postgres.Open(ctx, sv.Migrated(t), postgres.MaxConns(conns))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("ping of an idle pool: %v", err)
	}
	release := make(chan struct{})
	var held, done sync.WaitGroup
	for i := range conns {
		held.Add(1)
		done.Go(func() {
			err := st.Update(ctx, func(w store.Writer) error {
				// A statement, so that the unit holds its connection with a transaction open.
				if _, err := w.GetTransaction(ctx, "nothing"); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				held.Done()
				<-release
				return nil
			})
			if err != nil {
				t.Errorf("long transaction %d: %v", i, err)
			}
		})
	}
	held.Wait()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = st.Ping(pctx)
	cancel()
	close(release)
	done.Wait()
	if err != nil {
		t.Errorf("ping with every pooled connection in a long transaction, the database answering: %v, want ready", err)
	}
}
