package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/tcpproxy"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// proxiedStores opens a store through a proxy and one straight to the server, both on one
// fresh schema.
func proxiedStores(t *testing.T, opts ...postgres.Option) (*postgres.Store, *postgres.Store, *tcpproxy.Proxy) {
	t.Helper()
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	pdsn, p := tcpproxy.ForDSN(t, dsn)
	direct, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	via, err := postgres.Open(t.Context(), pdsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { via.Close() })
	return via, direct, p
}

var proxiedLimits = []store.SendLimit{{Window: time.Hour, Max: 100}}

// TestRestartRecovers: every connection cut and new ones refused for a while (a
// PostgreSQL restart): the store answers again, without being reopened, once the server
// takes connections.
func TestRestartRecovers(t *testing.T) {
	via, _, p := proxiedStores(t)
	ctx := t.Context()
	if err := via.ReserveSend(ctx, []string{"user:a"}, proxiedLimits, time.Now()); err != nil {
		t.Fatal(err)
	}
	p.Refuse(5)
	p.CutAll()
	deadline := time.Now().Add(15 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = via.Ping(c)
		if err == nil {
			err = via.ReserveSend(c, []string{"user:a"}, proxiedLimits, time.Now())
		}
		cancel()
		if err == nil {
			return
		}
	}
	t.Fatalf("the store did not recover after the restart: %v", err)
}

// TestStallReleasesLocks: a replica whose connection to the database is cut off
// mid-unit without either end seeing it close (a network partition) must not leave its
// transaction, and the locks it holds, open on the server for good: every other replica's
// send to that user (ReserveSend's advisory lock) would wait on it and fail.
func TestStallReleasesLocks(t *testing.T) {
	via, direct, p := proxiedStores(t)
	ctx := t.Context()
	uctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	err := via.Update(uctx, func(w store.Writer) error {
		if err := w.ReserveSend(uctx, []string{"user:held"}, proxiedLimits, time.Now()); err != nil {
			return err
		}
		p.Stall()
		return w.ReserveSend(uctx, []string{"user:other"}, proxiedLimits, time.Now())
	})
	if err == nil {
		t.Fatal("the stalled unit committed")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the stalled unit took %v to give up, want its deadline plus the rollback's", d)
	}
	// Another replica sends to the same user.
	start = time.Now()
	c2, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	if err := direct.ReserveSend(c2, []string{"user:held"}, proxiedLimits, time.Now()); err != nil {
		t.Fatalf("another replica's send to the user waited %v on the lost transaction's lock: %v", time.Since(start), err)
	}
	t.Logf("waited %v", time.Since(start))
}
