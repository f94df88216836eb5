package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestAdminChangeFromClockAhead: a CLI (or replica) whose clock is an hour ahead
// disables bob. The servers' workers, whose clocks are right, carry the disable to the
// vendor at once: before, its propagation was queued due at the CLI's time, and no worker
// sent it until its own clock caught up, an hour later.
func TestAdminChangeFromClockAhead(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		server := adminManager(t, q, st, clk)
		if _, err := server.CreateUser(ctx, "ops", lifecycle.UserInput{Name: "bob"}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		clk.Advance(time.Minute)

		cli := adminManager(t, q, st, &clock{t: clk.Now().Add(time.Hour)})
		if _, err := cli.SetUserState(ctx, "ops", "bob", true); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		drain(t, q)
		if got := duo.state("bob"); got != "disabled" {
			t.Errorf("a second after the CLI's disable the vendor has bob %s, want disabled (calls %q)", got, duo.got())
		}
	})
}
