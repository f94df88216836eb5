package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// openReadStore is a file store (readers apart from the writer) with a user and an
// active factor of theirs.
func openReadStore(t *testing.T) store.Store { return openReadStoreB(t) }

func openReadStoreB(t testing.TB) store.Store {
	t.Helper()
	st := testdb.SQLite(t)
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	if err := st.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", Label: "phone",
		State: store.FactorActive, Secret: []byte("0123456789abcdef"), Params: map[string]string{"digits": "6"},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTransaction(ctx, store.Transaction{ID: "t1", Provider: "p", Username: "alice", Capability: "push",
		FactorID: "f1", Status: "PENDING", Secret: []byte("s"), ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return st
}

// allocsPerCall is fn's allocations a run, after a few runs that prepare its statements.
func allocsPerCall(t *testing.T, fn func()) float64 {
	t.Helper()
	for range 3 {
		fn()
	}
	return testing.AllocsPerRun(200, fn)
}

// TestReadAllocs: what a validation's read (GetFactorAndUser) and a mediated
// initiate's (UserDisabled) allocate, under context.Background and under a context that
// can be canceled, as a request's is.
func TestReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	st := openReadStore(t)
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	// modernc.org/sqlite made a string of each result column's name and declared type on
	// each run: 94 and 21 before, 60 and 19 with the columns named by one letter and
	// read through unary + (sqlstore.BareResults); and one of each parameter's name: 58
	// and 18 with ? for $n (sqlstore.AnonymousParams). Each destination of Scan escaped
	// on its own, and the slice of them: 44 with them in one struct (89 -> 64 for
	// GetFactorUserAndTransaction). Under a cancelable context database/sql and the driver
	// each started a goroutine to watch it (52, 25-27 and 71); the keyed reads run without
	// its cancellation (sqlstore.DetachedKeyedReads), one allocation more than under
	// Background (45, 19 and 65). On the reader's driver connection, their statements
	// prepared on it, database/sql's Rows, Row and arguments are spared, and the context
	// is not wrapped: 38, 11 and 58 under either; 37 and 57 with the keyed row of the
	// two reads that scan into one struct on the stack (sqlstore's scanRow).
	for _, c := range []struct {
		name         string
		ctx          context.Context
		gfu, ud, gft float64
	}{{"background", context.Background(), 37, 11, 57}, {"cancelable", cancelable, 37, 11, 57}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := c.ctx
			gfu := allocsPerCall(t, func() {
				if _, u, err := st.GetFactorAndUser(ctx, "f1", "alice"); err != nil || u.ID != "u1" {
					t.Fatal(u, err)
				}
			})
			ud := allocsPerCall(t, func() {
				if off, err := st.UserDisabled(ctx, "alice"); err != nil || off {
					t.Fatal(off, err)
				}
			})
			gfut := allocsPerCall(t, func() {
				if _, _, tx, err := st.GetFactorUserAndTransaction(ctx, "f1", "alice", "t1"); err != nil || tx.ID != "t1" {
					t.Fatal(tx, err)
				}
			})
			t.Logf("GetFactorAndUser: %.0f allocs; UserDisabled: %.0f; GetFactorUserAndTransaction: %.0f", gfu, ud, gfut)
			if gfu > c.gfu {
				t.Errorf("GetFactorAndUser allocates %.0f times, want at most %.0f", gfu, c.gfu)
			}
			if gfut > c.gft {
				t.Errorf("GetFactorUserAndTransaction allocates %.0f times, want at most %.0f", gfut, c.gft)
			}
			if ud > c.ud {
				t.Errorf("UserDisabled allocates %.0f times, want at most %.0f", ud, c.ud)
			}
		})
	}
}

// TestParamNamesAllocs: a statement's run allocates nothing for the names of its
// parameters. An audit row has eleven: each run of its INSERT in a unit made a string of
// each name to find its argument (modernc.org/sqlite's conn.bind).
func TestParamNamesAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	st := openReadStore(t)
	ctx := context.Background()
	audits := func(n int) func() {
		return func() {
			err := st.Update(ctx, func(w store.Writer) error {
				for range n {
					if err := w.AppendAudit(ctx, store.AuditEvent{Time: time.UnixMilli(1_700_000_000_000), RequestID: "r",
						Provider: "p", Username: "alice", Resource: "initiate", Outcome: "PENDING"}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	const many = 17
	one := allocsPerCall(t, audits(1))
	all := allocsPerCall(t, audits(many))
	per := (all - one) / (many - 1)
	t.Logf("an audit row in a unit: %.1f allocs", per)
	// 28.1 with the names, 17.0 with ? for $n.
	if per > 18 {
		t.Errorf("an audit row in a unit costs %.1f allocations, want at most 18", per)
	}
}
