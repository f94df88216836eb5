package sync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// groupVendor is a vendor that keeps its users' groups: a membership of a user it does
// not know is skipped, as the DUO configuration's lookup does.
type groupVendor struct {
	*vendor
	groups map[string][]string // user → groups
}

func (v *groupVendor) Propagate(ctx context.Context, ev provider.LifecycleEvent) error {
	if err := v.vendor.Propagate(ctx, ev); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	_, known := v.users[ev.Username]
	switch {
	case ev.Type == provider.EventGroupMemberAdd && known && !slices.Contains(v.groups[ev.Username], ev.Group):
		v.groups[ev.Username] = append(v.groups[ev.Username], ev.Group)
	case ev.Type == provider.EventGroupMemberRemove && known:
		v.groups[ev.Username] = slices.DeleteFunc(v.groups[ev.Username], func(g string) bool { return g == ev.Group })
	case ev.Type == provider.EventUserDelete:
		delete(v.groups, ev.Username)
	}
	return nil
}

// TestDeadCreateRetriedAfterMembership: a create the vendor failed until it was a
// dead letter, then a group membership (the vendor skips it: it does not know the user
// yet), then the dead letter retried: the vendor gets the user with the group emfa has
// for it, as it gets the user's state and profile now.
func TestDeadCreateRetriedAfterMembership(t *testing.T) { testDeadCreateRetried(t, 0) }

// testDeadCreateRetried is TestDeadCreateRetriedAfterMembership with done older
// propagations of the user kept in the queue (doneBacklog).
func testDeadCreateRetried(t *testing.T, done int) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		q.MaxAttempts = 2
		duo := &groupVendor{vendor: newVendor("duo"), groups: map[string][]string{}}
		q.Propagators = []provider.LifecyclePropagator{duo}
		if done > 0 {
			doneBacklog(t, q, q.Store, "dan", clk.Now().Add(-2*time.Minute), done)
		}
		duo.failing(provider.EventUserCreate, true)
		q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "dan", clk.Now().Add(-time.Minute))})
		for range 2 {
			drain(t, q)
			clk.Advance(time.Hour)
		}
		add := ev("2", provider.EventGroupMemberAdd, "dan", clk.Now().Add(-time.Second))
		add.Group = "eng"
		q.Enqueue(ctx, []provider.LifecycleEvent{add})
		drain(t, q)
		if u, err := m.GetUser(ctx, "dan"); err != nil || !slices.Equal(u.Groups, []string{"eng"}) {
			t.Fatalf("dan in emfa: %+v, %v; want in eng", u, err)
		}
		duo.failing(provider.EventUserCreate, false)
		if n, err := q.RetryDead(ctx, "ops", 0); n != 1 || err != nil {
			t.Fatalf("retry = %d, %v", n, err)
		}
		drain(t, q)
		duo.mu.Lock()
		defer duo.mu.Unlock()
		if got := duo.groups["dan"]; !slices.Equal(got, []string{"eng"}) {
			t.Errorf("dan's groups at the vendor: %q, want [eng] as in emfa (calls %q)", got, duo.calls)
		}
	})
}
