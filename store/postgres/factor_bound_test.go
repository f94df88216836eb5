package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// Of two enrollments of one user side by side, on two connections, the later waits for
// the earlier's commit and counts its factor: the bound holds with PostgreSQL's several
// writers. Without the wait, each counted before the other's commit and both were stored.
func TestCreateFactorWithinWaitsForTheOther(t *testing.T) {
	sv := testdb.Connect(t)
	s := sv.Open(t)
	ctx := context.Background()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: time.UnixMilli(1000)}); err != nil {
		t.Fatal(err)
	}
	factor := func(id string) store.Factor {
		return store.Factor{ID: id, UserID: "u1", Type: "totp", State: store.FactorActive, Params: map[string]string{},
			Counter: -1, CreatedAt: time.UnixMilli(1000), UpdatedAt: time.UnixMilli(1000)}
	}
	other := make(chan error, 1)
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.CreateFactorWithin(ctx, factor("f1"), 1, store.Alike{}); err != nil {
			return err
		}
		go func() {
			other <- s.Update(ctx, func(w store.Writer) error { return w.CreateFactorWithin(ctx, factor("f2"), 1, store.Alike{}) })
		}()
		// Until the other is seen waiting for a lock, or done beside this uncommitted one.
		var qerr error
		testwait.Until(t, "the other unit to wait for a lock or commit", time.Millisecond, func() bool {
			select {
			case err := <-other:
				other <- err
				return true
			default:
			}
			var waiting int
			qerr = sv.Admin.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting)
			return qerr != nil || waiting > 0
		})
		return qerr
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := testwait.Recv(t, "the other enrollment to end", other); !errors.Is(err, store.ErrTooMany) {
		t.Errorf("the enrollment beside the first: %v, want %v", err, store.ErrTooMany)
	}
	if fs, _ := s.ListFactors(ctx, "u1"); len(fs) != 1 {
		t.Errorf("u1 has %d factors, the most is 1", len(fs))
	}
}
