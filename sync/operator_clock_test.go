package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/sync"
)

// TestOperatorsChangeOrderedOnDatabasesClock: on PostgreSQL, an operator's change made
// through a process whose clock is 10 minutes off the database's (a replica's admin API,
// or a CLI's import) moves its user's ordering marks, and dates its propagations, by the
// database's clock, as the store measured this process's against it
// (store.SharedClock), like the sync queue's times; the directory's events, dated by
// their source, are ordered against it as they happened. Before, the marks were this
// process's clock's: made 10 minutes ahead, an operator's disable skipped the
// directory's enable published a minute after it as older (emfa and the vendor kept the
// user disabled); made 10 minutes behind, the directory's enable published 5 minutes
// before the disable, delivered late, undid it.
func TestOperatorsChangeOrderedOnDatabasesClock(t *testing.T) {
	ctx := context.Background()
	disables := []struct {
		name    string
		disable func(t *testing.T, m *lifecycle.Manager)
	}{
		{"admin API", func(t *testing.T, m *lifecycle.Manager) {
			if _, err := m.SetUserState(ctx, "ops", "alice", true); err != nil {
				t.Fatal(err)
			}
		}},
		{"import", func(t *testing.T, m *lifecycle.Manager) {
			rep := importCSV(t, m, "username,state\nalice,disabled\n", lifecycle.ImportOptions{})
			if len(rep.Rows) != 1 || rep.Rows[0].Action != lifecycle.ActionUpdated {
				t.Fatalf("the import did %+v, want alice updated", rep.Rows)
			}
		}},
	}
	for _, c := range disables {
		for _, tc := range []struct {
			name string
			off  time.Duration // how far the operator's process's clock is ahead
			// enabled is when, after the disable by the database's clock, the
			// directory's enable is dated.
			enabled time.Duration
			want    string
		}{
			{"10 minutes ahead", skew, time.Minute, lifecycle.StateActive},
			{"10 minutes behind", -skew, -5 * time.Minute, lifecycle.StateDisabled},
		} {
			t.Run(c.name+", "+tc.name, func(t *testing.T) {
				right, off, duo, clk, st := replicaAheadBy(t, tc.off)
				created(t, right, clk)
				drain(t, right)
				clk.Advance(skew) // the create's marks long before what follows
				m := adminManager(t, off, st, &clock{t: off.Now()})
				c.disable(t, m)
				enable := ev("e", provider.EventUserEnable, "alice", clk.Now().Add(tc.enabled))
				if tc.enabled > 0 {
					clk.Advance(tc.enabled)
				}
				if _, err := right.Enqueue(ctx, []provider.LifecycleEvent{enable}); err != nil {
					t.Fatal(err)
				}
				clk.Advance(2 * time.Second) // past sync's settle
				drain(t, right)
				if got := userState(t, m, "alice"); got != tc.want {
					t.Errorf("the directory's enable dated %s from the operator's disable (by the database's clock): emfa has alice %s, want %s", tc.enabled, got, tc.want)
				}
				if got := duo.state("alice"); got != tc.want {
					t.Errorf("the vendor has alice %s, want %s (calls %q)", got, tc.want, duo.got())
				}
			})
		}
	}
}

// TestReceiptOnReplicaAheadDatedOnce: a directory's change that gives no time of its own
// (SCIM's, applied at once; a Verify notification's whose time is null, queued), received
// by a replica whose clock is 10 minutes ahead of the database's, is dated on the queue's
// clock once: the directory's older change, published 5 minutes before it and delivered
// late, is skipped as older. Taken to the queue's clock twice (as the receipt's time,
// then as an operator's change's by MarkTime), the disable was dated 10 minutes back,
// before it, and the late enable undid it.
func TestReceiptOnReplicaAheadDatedOnce(t *testing.T) {
	ctx := context.Background()
	disable := provider.LifecycleEvent{ID: "d", Type: provider.EventUserDisable, Username: "alice"}
	for _, tc := range []struct {
		name    string
		receive func(q *sync.Queue) error
	}{
		{"SCIM", func(q *sync.Queue) error {
			ev := disable
			ev.Source = "scim"
			return q.ApplyNow(ctx, ev)
		}},
		{"undated, queued", func(q *sync.Queue) error {
			ev := disable
			ev.Source = "verify"
			_, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			right, ahead, duo, clk, st := replicaAheadBy(t, skew)
			created(t, right, clk)
			drain(t, right)
			clk.Advance(skew) // the create's marks long before what follows
			if err := tc.receive(ahead); err != nil {
				t.Fatal(err)
			}
			if _, err := right.Enqueue(ctx, []provider.LifecycleEvent{ev("e", provider.EventUserEnable, "alice", clk.Now().Add(-5*time.Minute))}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(2 * time.Second) // past sync's settle
			drain(t, right)
			if got := userState(t, adminManager(t, right, st, clk), "alice"); got != lifecycle.StateDisabled {
				t.Errorf("the directory's enable published 5 minutes before the disable received, delivered late: emfa has alice %s, want %s", got, lifecycle.StateDisabled)
			}
			if got := duo.state("alice"); got != "disabled" {
				t.Errorf("the vendor has alice %s, want disabled (calls %q)", got, duo.got())
			}
		})
	}
}
