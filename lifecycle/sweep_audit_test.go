package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestSweptFactorInUsersTrail: the sweeper's deletion of a factor whose activation
// never came names the factor's user, so that the user's trail (GET /audit?user=, emfa
// audit --user) has the factor's end as it has its enrollment. The record named no user,
// and a factor enrolled for alice seemed, in her trail, never to have gone.
func TestSweptFactorInUsersTrail(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"}) // pending its passcode
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(lifecycle.DefaultActivationLifetime + time.Minute)
		if n, err := m.SweepPending(ctx); n != 1 || err != nil {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: "ALICE", Action: "admin.factors.expire"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 1 || page.Events[0].User != "alice" || page.Events[0].FactorID != en.Factor.ID || page.Events[0].Actor != "sweeper" {
			t.Errorf("alice's admin.factors.expire records %+v, want one of factor %s", page.Events, en.Factor.ID)
		}
	})
}
