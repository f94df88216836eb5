package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// TestApprovalHoldsItsDeviceAndUser: an approval's compare-and-set
// (CompleteTransactionIfActive) that has tested its factor and user, and waits for the
// transaction's row (another unit holds it), is not overtaken by a delete or disable of
// the factor, or a disable of the user: either that change waits for the approval's
// commit, or the approval finds it and changes nothing. Before, the change committed
// while the approval waited, and the approval then committed SUCCESS on what its
// statement had seen at its start: a device the admin had removed signed the user in.
func TestApprovalHoldsItsDeviceAndUser(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	ctx := context.Background()
	open, waiting := lockStores(t, sv, dsn)
	app := "c10" + time.Now().Format("150405.000000")
	s, approver, changer := open(app+"s"), open(app+"a"), open(app+"c")
	t0 := time.UnixMilli(1_800_000_000_000)
	cases := []struct {
		name   string
		change func(fid, user string) error
	}{
		{"factor deleted", func(fid, _ string) error { return changer.DeleteFactor(ctx, fid) }},
		{"factor disabled", func(fid, _ string) error { return changer.SetFactorState(ctx, fid, store.FactorDisabled, t0) }},
		{"user disabled", func(_, user string) error { return changer.SetUserDisabled(ctx, user, true) }},
	}
	for i, c := range cases {
		i, name, change := i+1, c.name, c.change
		uid, user, fid, txid := "u"+string(rune('0'+i)), "user"+string(rune('0'+i)), "f"+string(rune('0'+i)), "t"+string(rune('0'+i))
		if err := s.CreateUser(ctx, store.User{ID: uid, Name: user, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateFactor(ctx, store.Factor{ID: fid, UserID: uid, Type: "push", State: store.FactorActive,
			Params: map[string]string{}, Counter: -1, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTransaction(ctx, store.Transaction{ID: txid, Provider: "p", Username: user, Capability: "push",
			FactorID: fid, Status: "PENDING", ExpiresAt: t0.Add(time.Minute), CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		approved, changed := make(chan error, 1), make(chan error, 1)
		changedFirst := false
		err := s.Update(ctx, func(w store.Writer) error {
			// The transaction's row held (an attempt counted: it stays PENDING) until this
			// unit commits.
			if _, err := w.AddAttempt(ctx, txid, t0); err != nil {
				return err
			}
			go func() {
				approved <- approver.Update(ctx, func(w store.Writer) error {
					return w.CompleteTransactionIfActive(ctx, txid, "SUCCESS", fid, t0)
				})
			}()
			testwait.Until(t, name+": the approval waiting for the transaction's row", time.Millisecond, func() bool {
				if waiting(app + "a") {
					return true
				}
				select {
				case err := <-approved:
					t.Fatalf("%s: the approval did not wait for the transaction's row: %v", name, err)
				default:
				}
				return false
			})
			// Until the change commits beside the waiting approval, or waits for it.
			changedFirst = changeBeside(t, name+": the change", changed, func() error { return change(fid, user) }, func() bool { return waiting(app + "c") })
			return nil
		})
		if err != nil {
			t.Fatal(name, err)
		}
		errA, errC := testwait.Recv(t, name+": the approval to end", approved), testwait.Recv(t, name+": the change to end", changed)
		if errC != nil {
			t.Fatalf("%s: %v", name, errC)
		}
		tx, err := s.GetTransaction(ctx, txid)
		if err != nil {
			t.Fatal(err)
		}
		if changedFirst && (errA == nil || tx.Status != "PENDING") {
			t.Errorf("%s committed while the approval waited, then the approval: %v, transaction %s; want %v and PENDING",
				name, errA, tx.Status, store.ErrInactive)
		}
		if !changedFirst && (errA != nil || tx.Status != "SUCCESS") {
			t.Errorf("%s waited for the approval, which then: %v, transaction %s; want SUCCESS", name, errA, tx.Status)
		}
		if changedFirst && errA != nil && !errors.Is(errA, store.ErrInactive) {
			t.Errorf("%s: the approval: %v, want %v", name, errA, store.ErrInactive)
		}
	}
}

// TestApprovalIsOneRoundTrip: the approval's conditional compare-and-set costs no
// round trip more than CompleteTransaction did: with its audit row and COMMIT, one.
func TestApprovalIsOneRoundTrip(t *testing.T) {
	s, rt := speculating(t)
	ctx := t.Context()
	approve := func(txid string) error {
		if err := s.CreateTransaction(ctx, store.Transaction{ID: txid, Provider: "p", Username: "alice", Capability: "push",
			FactorID: "f1", Status: "PENDING", ExpiresAt: t0.Add(time.Minute), CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		return s.Update(ctx, func(w store.Writer) error {
			if err := w.CompleteTransactionIfActive(ctx, txid, "SUCCESS", "f1", t0); err != nil {
				return err
			}
			return w.AppendAudit(ctx, store.AuditEvent{Time: t0, Provider: "p", Username: "alice", Outcome: "SUCCESS"})
		})
	}
	if err := approve("t1"); err != nil { // prepares the statements
		t.Fatal(err)
	}
	if err := s.CreateTransaction(ctx, store.Transaction{ID: "t2", Provider: "p", Username: "alice", Capability: "push",
		FactorID: "f1", Status: "PENDING", ExpiresAt: t0.Add(time.Minute), CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	before := rt.n.Load()
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.CompleteTransactionIfActive(ctx, "t2", "SUCCESS", "f1", t0); err != nil {
			return err
		}
		return w.AppendAudit(ctx, store.AuditEvent{Time: t0, Provider: "p", Username: "alice", Outcome: "SUCCESS"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := rt.n.Load() - before; n != 1 {
		t.Errorf("the approval took %d round trips, want 1", n)
	}
	if err := s.SetFactorState(ctx, "f1", store.FactorDisabled, t0); err != nil {
		t.Fatal(err)
	}
	if err := approve("t3"); !errors.Is(err, store.ErrInactive) {
		t.Errorf("approval with the factor disabled: %v, want %v", err, store.ErrInactive)
	}
	if tx, err := s.GetTransaction(ctx, "t3"); err != nil || tx.Status != "PENDING" {
		t.Errorf("t3: %+v %v, want PENDING", tx, err)
	}
}

// lockStores opens stores on dsn, each under its own application name, and tells whether
// the connection of the store of a name waits for a lock (pg_stat_activity).
func lockStores(t *testing.T, sv *testdb.Server, dsn string) (open func(app string) store.Store, waiting func(app string) bool) {
	ctx := context.Background()
	open = func(app string) store.Store {
		s, err := postgres.Open(ctx, dsn+"&application_name="+app)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	waiting = func(app string) bool {
		var n int
		if err := sv.Admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	return open, waiting
}

// changeBeside runs change in a goroutine of its own, its error sent on changed, and
// returns once it has committed (true; its error put back on changed) or waits on a lock
// (waiting: false). Neither within testwait.Limit fails the test, naming what (the change).
func changeBeside(t *testing.T, what string, changed chan error, change func() error, waiting func() bool) (first bool) {
	t.Helper()
	go func() { changed <- change() }()
	testwait.Until(t, what+" to commit or wait for a lock", time.Millisecond, func() bool {
		select {
		case err := <-changed:
			changed <- err
			first = true
			return true
		default:
		}
		return waiting()
	})
	return first
}
