package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// sweepFixture fills a store with transactions, sends and nonces around the fake clock's
// now: some old enough to go, some not.
func sweepFixture(t *testing.T, st store.Store, clk *clock) {
	t.Helper()
	ctx := context.Background()
	now := clk.Now()
	tx := func(id string, expires time.Time) {
		t.Helper()
		err := st.CreateTransaction(ctx, store.Transaction{ID: id, Username: "alice", Capability: "smsotp", FactorID: "f",
			Status: "PENDING", ExpiresAt: expires, CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 { // expired more than the grace (1 h) ago
		tx(fmt.Sprintf("old-%d", i), now.Add(-time.Hour-time.Duration(i+1)*time.Minute))
	}
	tx("recent", now.Add(-time.Minute)) // expired, within the grace
	tx("live", now.Add(time.Minute))
	for i := range 5 { // sends older than the retention (2 h)
		if err := st.ReserveSend(ctx, []string{fmt.Sprintf("user:%d", i)}, nil, now.Add(-3*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.ReserveSend(ctx, []string{"user:alice"}, nil, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := st.UseNonce(ctx, "dev", fmt.Sprintf("expired-%d", i), now.Add(-time.Second), now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.UseNonce(ctx, "dev", "live", now.Add(time.Minute), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestSweep(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		sweepFixture(t, st, clk)
		s := &builtin.Sweeper{Store: st, Now: clk.Now, SendRetention: 2 * time.Hour, Batch: 2}
		got, err := s.Sweep(ctx)
		if err != nil || got != (builtin.Swept{Transactions: 7, Sends: 5, Nonces: 3}) {
			t.Fatalf("sweep: %+v %v", got, err)
		}
		for _, id := range []string{"recent", "live"} {
			if _, err := st.GetTransaction(ctx, id); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
		if _, err := st.GetTransaction(ctx, "old-0"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old-0: %v", err)
		}
		// The live nonce is still used; the send within retention still counts.
		if err := st.UseNonce(ctx, "dev", "live", clk.Now().Add(time.Minute), clk.Now()); !errors.Is(err, store.ErrReplay) {
			t.Errorf("live nonce: %v", err)
		}
		if err := st.ReserveSend(ctx, []string{"user:alice"}, []store.SendLimit{{Window: 2 * time.Hour, Max: 1}}, clk.Now()); !errors.Is(err, store.ErrRateLimited) {
			t.Errorf("recent send was swept: %v", err)
		}
		if got, err := s.Sweep(ctx); err != nil || got != (builtin.Swept{}) {
			t.Errorf("second sweep: %+v %v", got, err)
		}
		// An hour later, the grace and the retention have passed for the rest.
		clk.Advance(time.Hour + time.Minute)
		if got, err := s.Sweep(ctx); err != nil || got != (builtin.Swept{Transactions: 1, Sends: 1, Nonces: 1}) {
			t.Errorf("an hour later: %+v %v", got, err)
		}
	})
}

func TestSweeperRun(t *testing.T) {
	st := testdb.SQLite(t)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sweepFixture(t, st, clk)
	s := &builtin.Sweeper{Store: st, Now: clk.Now, SendRetention: 2 * time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time) // unbuffered: a send returns once Run waits for it
	done := make(chan struct{})
	go func() { s.Run(ctx, ticks); close(done) }()

	ticks <- time.Time{} // the first sweep, at start, is done
	if _, err := st.GetTransaction(ctx, "old-0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("first sweep left old-0: %v", err)
	}
	clk.Advance(2 * time.Hour)
	ticks <- time.Time{} // a sweep ran on the previous tick
	ticks <- time.Time{}
	if _, err := st.GetTransaction(ctx, "live"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tick did not sweep: %v", err)
	}
	cancel()
	testwait.Recv(t, "Run to stop with its context", done)
}

func TestSweepStopsWithContext(t *testing.T) {
	st := testdb.SQLite(t)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sweepFixture(t, st, clk)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&builtin.Sweeper{Store: st, Now: clk.Now}).Sweep(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled sweep: %v", err)
	}
}

// Audit events older than the retention go; without a retention they all stay.
func TestSweepAudit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		for i, age := range []time.Duration{100 * 24 * time.Hour, 91 * 24 * time.Hour, 89 * 24 * time.Hour, time.Hour} {
			ev := store.AuditEvent{Time: clk.Now().Add(-age), RequestID: fmt.Sprint(i), Username: "alice", Outcome: "SUCCESS"}
			if err := st.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := (&builtin.Sweeper{Store: st, Now: clk.Now}).Sweep(ctx); err != nil || got.Audit != 0 {
			t.Errorf("no retention: %+v %v", got, err)
		}
		got, err := (&builtin.Sweeper{Store: st, Now: clk.Now, AuditRetention: 90 * 24 * time.Hour, Batch: 1}).Sweep(ctx)
		if err != nil || got.Audit != 2 {
			t.Fatalf("90 days: %+v %v", got, err)
		}
		left, _ := st.ListAudit(ctx, store.AuditFilter{})
		if len(left) != 2 || left[0].RequestID != "3" || left[1].RequestID != "2" {
			t.Errorf("kept %+v", left)
		}
	})
}

// TestSweepSelfService: ended or idle self-service sessions go, and activation links
// past their end or spent more than a day ago; the rest stay.
func TestSweepSelfService(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ss, ok := st.(store.SelfService)
		if !ok {
			t.Skip("no self-service in this store")
		}
		clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		now := clk.Now()
		link := func(user string, created, expires, spent time.Time) {
			t.Helper()
			if err := st.CreateUser(ctx, store.User{ID: "id-" + user, Name: user, CreatedAt: now.Add(-72 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := ss.PutLink(ctx, store.SelfServiceLink{UserID: "id-" + user, Hash: "h-" + user, CreatedAt: created, ExpiresAt: expires}, store.AuditEvent{Time: created, Resource: "admin.selfservice.link", Outcome: "SUCCESS"}); err != nil {
				t.Fatal(err)
			}
			if !spent.IsZero() {
				if err := ss.SpendLink(ctx, "h-"+user, spent); err != nil {
					t.Fatal(err)
				}
			}
		}
		link("expired", now.Add(-8*24*time.Hour), now.Add(-time.Hour), time.Time{})
		link("live", now.Add(-time.Hour), now.Add(24*time.Hour), time.Time{})
		link("spentlong", now.Add(-72*time.Hour), now.Add(72*time.Hour), now.Add(-25*time.Hour))
		link("spentnow", now.Add(-2*time.Hour), now.Add(72*time.Hour), now.Add(-time.Hour))
		sess := func(hash string, seen, expires time.Time) {
			t.Helper()
			if err := ss.PutSession(ctx, store.SelfServiceSession{Hash: hash, Kind: "anon", CSRF: "c", Data: "{}", SeenAt: seen, ExpiresAt: expires}); err != nil {
				t.Fatal(err)
			}
		}
		sess("idle", now.Add(-11*time.Minute), now.Add(time.Hour))
		sess("ended", now.Add(-time.Minute), now.Add(-time.Second))
		sess("fresh", now.Add(-time.Minute), now.Add(time.Hour))
		s := &builtin.Sweeper{Store: st, Now: clk.Now, SessionIdle: 10 * time.Minute}
		got, err := s.Sweep(ctx)
		// An expired link is kept a day too, as a spent one: a late click says it expired.
		if err != nil || got != (builtin.Swept{Sessions: 2, Links: 1}) {
			t.Fatalf("sweep: %+v %v", got, err)
		}
		for _, h := range []string{"h-live", "h-spentnow", "h-expired"} {
			if _, err := ss.GetLink(ctx, h); err != nil {
				t.Errorf("%s: %v", h, err)
			}
		}
		for _, h := range []string{"h-spentlong"} {
			if _, err := ss.GetLink(ctx, h); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s survived: %v", h, err)
			}
		}
		if _, err := ss.GetSession(ctx, "fresh"); err != nil {
			t.Errorf("fresh: %v", err)
		}
		for _, h := range []string{"idle", "ended"} {
			if _, err := ss.GetSession(ctx, h); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %s survived: %v", h, err)
			}
		}
		// A day later: the fresh session has idled out, the spent and the expired links aged
		// out; the live one has just ended, and stays a day.
		clk.Advance(24 * time.Hour)
		if got, err := s.Sweep(ctx); err != nil || got != (builtin.Swept{Sessions: 1, Links: 2}) {
			t.Errorf("a day later: %+v %v", got, err)
		}
	})
}

// TestSweepSettingsFollowAReload: with Settings, each sweep takes the retention the
// serving configuration gives now: a send-limit window lengthened by a reload keeps the
// send records it needs.
func TestSweepSettingsFollowAReload(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		sweepFixture(t, st, clk) // sends 3 h old, and one 1 h old
		retention := 2 * time.Hour
		s := &builtin.Sweeper{Store: st, Now: clk.Now, SendRetention: time.Minute,
			Settings: func() (time.Duration, time.Duration) { return retention, 0 }}
		retention = 24 * time.Hour // reloaded: a 24 h window
		if got, err := s.Sweep(ctx); err != nil || got.Sends != 0 {
			t.Fatalf("sweep with a 24 h window: %+v %v", got, err)
		}
		retention = 2 * time.Hour
		if got, err := s.Sweep(ctx); err != nil || got.Sends != 5 {
			t.Fatalf("sweep with a 2 h window: %+v %v", got, err)
		}
	})
}
