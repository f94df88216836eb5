package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/sync"
	"github.com/emfa/emfa/telemetry"
)

// syncCounts is the registry's emfa_sync_events_finished_total as "source outcome value".
func syncCounts(t *testing.T, m *telemetry.Metrics) []string {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if f.GetName() != "emfa_sync_events_finished_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range s.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out = append(out, fmt.Sprintf("%s %s %g", l["source"], l["outcome"], s.GetCounter().GetValue()))
		}
	}
	slices.Sort(out)
	return out
}

// failingVendor is a vendor whose calls fail while fail is set.
type failingVendor struct{ fail bool }

func (v *failingVendor) PropagationTarget() string { return "duo" }

func (v *failingVendor) Propagate(context.Context, provider.LifecycleEvent) error {
	if v.fail {
		return errors.New("vendor down")
	}
	return nil
}

// TestSyncFinishedCounted: what serve's sync queue makes of each event it finishes is
// counted (countSync) by the event's source and outcome, as the queue decided it: applied
// (by the worker, and at once for SCIM), skipped, retry, dead; a propagation carried to
// its vendor. The queue's outcomes are the metric's.
func TestSyncFinishedCounted(t *testing.T) {
	for _, o := range []struct{ queue, metric string }{{sync.OutcomeApplied, telemetry.SyncApplied},
		{sync.OutcomePropagated, telemetry.SyncPropagated}, {sync.OutcomeSkipped, telemetry.SyncSkipped},
		{sync.OutcomeRetry, telemetry.SyncRetry}, {sync.OutcomeDead, telemetry.SyncDead}} {
		if o.queue != o.metric {
			t.Errorf("the queue's outcome %q is the metric's %q", o.queue, o.metric)
		}
	}
	ctx := t.Context()
	st, err := sqlite.Open(ctx, "file:"+filepath.Join(t.TempDir(), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	lm, err := lifecycle.New(lifecycle.Options{Store: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	vendor := &failingVendor{fail: true}
	q := (&sync.Queue{Store: st, Applier: &sync.Applier{M: lm, Groups: st, Now: clock}, Now: clock, MaxAttempts: 2,
		Propagators: []provider.LifecyclePropagator{vendor}}).Init()
	m := telemetry.NewMetrics("test")
	countSync(q, m)
	ev := func(id, typ, user string) provider.LifecycleEvent {
		return provider.LifecycleEvent{ID: id, Source: "okta", Type: typ, Username: user, Time: now.Add(-time.Minute)}
	}
	ghost := ev("2", provider.EventUserUpdate, "ghost")
	ghost.DisplayName = new(string)
	if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice"), ghost}); err != nil {
		t.Fatal(err)
	}
	drain := func() {
		t.Helper()
		if _, err := q.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	drain() // alice applied, ghost skipped; alice's propagation fails: retry
	now = now.Add(time.Hour)
	drain() // and fails again: dead
	vendor.fail = false
	if err := q.ApplyNow(ctx, provider.LifecycleEvent{Source: "scim", Type: provider.EventUserCreate, Username: "bob"}); err != nil {
		t.Fatal(err)
	}
	drain() // bob's propagation carried
	want := []string{"okta applied 1", "okta skipped 1", "propagate:duo dead 1", "propagate:duo propagated 1", "propagate:duo retry 1", "scim applied 1"}
	if got := syncCounts(t, m); !slices.Equal(got, want) {
		t.Errorf("counted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSyncMetricsScraped: a server with directory sync shows the queue on /metrics: its
// events by source and state, the oldest pending event's age, the paused sources, and
// what the worker made of each event.
func TestSyncMetricsScraped(t *testing.T) {
	app := fakeCLI()
	cfg := adminConfig(t, "", syncTestConfig+"metrics: {token: \"scrape-token-0123456789\"}\n")
	queued := app.clock.Now().Add(-time.Minute)
	syncDB(t, cfg,
		`INSERT INTO sync_pauses (source, reason, created_at) VALUES ('verify', '100 users deleted in the last hour', 0)`,
		queueRow(1, "verify", "user.delete", "user:bob", "pending", 0, time.Time{}, "", queued),
		queueRow(2, "propagate:duo", "user.create", "propagate:duo/user:erin", "dead", 10, time.Time{}, "propagate: 503", queued),
	)
	base, _, _ := app.serve(t, "--config", cfg)
	got := scrape(t, base, "scrape-token-0123456789")
	for k, want := range map[string]float64{
		"emfa_sync_events{source=verify,state=pending}":          1,
		"emfa_sync_events{source=propagate:duo,state=dead}":      1,
		"emfa_sync_source_paused{source=verify}":                 1,
		"emfa_sync_source_paused{source=propagate:duo}":          0,
		"emfa_sync_oldest_pending_seconds{source=propagate:duo}": 0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if age := got["emfa_sync_oldest_pending_seconds{source=verify}"]; age < 60 {
		t.Errorf("oldest pending of verify %vs, want a minute or more", age)
	}
	// An Okta event, applied by the worker once it settled.
	code, _ := syncPost(t, base+"/sync/okta", `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"o1","published":"2026-05-01T09:00:01Z","eventType":"user.lifecycle.create","target":[{"type":"User","alternateId":"olga","displayName":"O"}]}]}}`,
		"X-Okta-Secret", "okta-secret-0123456789")
	if code != 204 {
		t.Fatalf("okta: %d", code)
	}
	app.clock.Advance(2 * time.Second) // past sync.settle
	key := "emfa_sync_events_finished_total{outcome=applied,source=okta}"
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && got[key] != 1; time.Sleep(50 * time.Millisecond) {
		got = scrape(t, base, "scrape-token-0123456789")
	}
	if got[key] != 1 {
		t.Errorf("%s = %v after the worker applied the event", key, got[key])
	}
	// The gauges were read once, and are read again after their TTL: okta's event is done.
	if _, ok := got["emfa_sync_events{source=okta,state=pending}"]; ok {
		t.Errorf("okta's gauges within the TTL of the first read: %v", got)
	}
	app.clock.Advance(telemetry.DefaultSyncStatsTTL)
	got = scrape(t, base, "scrape-token-0123456789")
	if v, ok := got["emfa_sync_events{source=okta,state=pending}"]; ok && v != 0 {
		t.Errorf("okta pending %v after its event was applied", v)
	}
	for k := range got {
		if strings.Contains(k, "olga") {
			t.Errorf("a user name in a label: %s", k)
		}
	}
}

// aheadStats is a sync queue on a store whose clock every replica shares (PostgreSQL's),
// to which this process's clock is ahead by ahead (store.SharedClock), with one source
// whose oldest pending event was queued at oldest, by the store's clock.
type aheadStats struct {
	store.SyncQueue
	ahead  time.Duration
	oldest time.Time
}

func (s aheadStats) ClockAhead() time.Duration { return s.ahead }

func (s aheadStats) SyncStats(context.Context) ([]store.SourceStats, error) {
	return []store.SourceStats{{Source: "verify", Pending: 1, OldestPending: s.oldest}}, nil
}

// TestSyncOldestPendingOnSkewedReplica: the oldest pending event's age is measured on the
// clock it was queued by (the database's, on PostgreSQL: sync.Queue's), not this process's:
// a replica 10 minutes ahead of the database, or behind it, shows an event queued a minute
// ago as a minute old. Before, the one ahead showed it 11 minutes old (an alert on the
// queue's age fired), the one behind 0.
func TestSyncOldestPendingOnSkewedReplica(t *testing.T) {
	db := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) // the database's clock now
	for _, ahead := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		m := telemetry.NewMetrics("test")
		local := db.Add(ahead)
		watchSync(m, aheadStats{ahead: ahead, oldest: db.Add(-time.Minute)}, func() time.Time { return local })
		families, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		age := -1.0
		for _, f := range families {
			if f.GetName() == "emfa_sync_oldest_pending_seconds" {
				for _, s := range f.GetMetric() {
					age = s.GetGauge().GetValue()
				}
			}
		}
		if age != 60 {
			t.Errorf("this clock %s ahead of the database's: the oldest pending event, queued a minute ago, is %vs old, want 60", ahead, age)
		}
	}
}
