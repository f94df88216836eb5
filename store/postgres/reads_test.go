package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/rusage"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// aliceTOTP is a store on the test database with user alice (u1) and her active TOTP
// factor f1, counter -1.
func aliceTOTP(tb testing.TB) store.Store {
	s := testdb.Connect(tb).Open(tb)
	ctx := context.Background()
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: t0}); err != nil {
		tb.Fatal(err)
	}
	err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("sealed"), KeyID: "k1", Params: map[string]string{"digits": "6"}, Counter: -1, CreatedAt: t0, UpdatedAt: t0})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// A validation's read of its factor and user (GetFactorAndUser) is one query; through
// database/sql and pgx's stdlib driver it cost 87 allocations (GetFactor 71), among them
// the driver's per-column value functions built again on every run of the query
// (stdlib.Rows), and database/sql's rows and goroutine watching the request's context.
// Read through pgx on the pooled connection (dialect.ReadRow): 36 (GetFactor 23); with
// the user's nullable columns scanned into pgx's own types (pgtype.Text, not
// sql.NullString: no scan plan made and no driver.Value boxed per column): 28.
func TestFactorAndUserReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s := aliceTOTP(t)
	ctx := context.Background()
	// A request's context, which can be canceled.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	read := func() {
		if _, _, err := s.GetFactorAndUser(rctx, "f1", "alice"); err != nil {
			t.Fatal(err)
		}
	}
	read() // the statement prepared on the connection
	if got := testing.AllocsPerRun(200, read); got > 28 {
		t.Errorf("GetFactorAndUser: %.0f allocations a read, want ≤ 28", got)
	}
	readFactor := func() {
		if _, err := s.GetFactor(rctx, "f1"); err != nil {
			t.Fatal(err)
		}
	}
	readFactor()
	if got := testing.AllocsPerRun(200, readFactor); got > 27 {
		t.Errorf("GetFactor: %.0f allocations a read, want ≤ 27", got)
	}
}

// BenchmarkReadCPU runs a validation's read of its factor and user from 16
// goroutines and reports this process's CPU (user and system, getrusage) per read: the
// client's side alone, which wall time on a shared machine hides.
func BenchmarkReadCPU(b *testing.B) {
	s := aliceTOTP(b)
	ctx := context.Background()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.SetParallelism(8)
	cpu0 := rusage.Process()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.GetFactorAndUser(rctx, "f1", "alice"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((rusage.Process()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}
