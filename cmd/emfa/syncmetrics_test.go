package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
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

// TestSyncFinishedCounted: what the worker makes of each event it finishes is counted by
// the event's source and outcome, as the store recorded it: applied, retried, dead-
// lettered, skipped; a propagation carried to its vendor, or skipped; a finish that lost
// its lease, or a released event, is not counted.
func TestSyncFinishedCounted(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, "file:"+filepath.Join(t.TempDir(), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := telemetry.NewMetrics("test")
	q := newCountedQueue(st, m)
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	duo := store.PropagationSource("duo")
	ev := func(source, user string) store.QueuedEvent {
		key := "user:" + user
		if source == duo {
			key = store.PropagationKey("duo", key)
		}
		return store.QueuedEvent{Source: source, EventID: source + user, Key: key, Type: "user.update", Time: now, Body: []byte(`{}`)}
	}
	if _, err := q.EnqueueEvents(ctx, []store.QueuedEvent{ev("okta", "a"), ev("okta", "b"), ev("okta", "c"), ev("okta", "d"), ev("okta", "e"),
		ev(duo, "a"), ev(duo, "b"), ev(duo, "c")}, now); err != nil {
		t.Fatal(err)
	}
	claimed, err := q.ClaimEvents(ctx, "w", 100, now, now.Add(time.Minute), now)
	if err != nil || len(claimed) != 5 {
		t.Fatalf("claimed %d, %v", len(claimed), err)
	}
	props, err := q.ClaimPropagations(ctx, "duo", "w", 100, now, now.Add(time.Minute))
	if err != nil || len(props) != 3 {
		t.Fatalf("claimed %d propagations, %v", len(props), err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(q.FinishApplied(ctx, claimed[0].Seq, "w", "", nil, now))
	must(q.FinishEvent(ctx, claimed[1].Seq, "w", store.QueuePending, "vendor down", false, now.Add(time.Second), now))
	must(q.FinishEvent(ctx, claimed[2].Seq, "w", store.QueueDead, "refused", false, time.Time{}, now))
	must(q.FinishEvent(ctx, claimed[3].Seq, "w", store.QueueDone, "skipped: older than an event already applied", false, time.Time{}, now))
	must(q.ReleaseEvent(ctx, claimed[4].Seq, "w", false))
	// Another worker's lease: this one's finish is refused, and not counted.
	if err := q.FinishEvent(ctx, claimed[4].Seq, "w", store.QueueDone, "", false, time.Time{}, now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("finish of a released event: %v", err)
	}
	must(q.FinishEvent(ctx, props[0].Seq, "w", store.QueueDone, "", false, time.Time{}, now))
	must(q.FinishEvent(ctx, props[1].Seq, "w", store.QueueDone, "skipped: older than a change of the user applied since", false, time.Time{}, now))
	must(q.FinishEvent(ctx, props[2].Seq, "w", store.QueueDead, "not propagated: ...", false, time.Time{}, now))
	// An event leased at once (SCIM) and applied.
	seqs, err := q.EnqueueLeased(ctx, []store.QueuedEvent{ev("scim", "f")}, "scim-call", now.Add(time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	must(q.FinishApplied(ctx, seqs[0], "scim-call", "", nil, now))
	want := []string{"okta applied 1", "okta dead 1", "okta retry 1", "okta skipped 1",
		"propagate:duo dead 1", "propagate:duo propagated 1", "propagate:duo skipped 1", "scim applied 1"}
	if got := syncCounts(t, m); !slices.Equal(got, want) {
		t.Errorf("counted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(q.leased); n != 0 {
		t.Errorf("%d leases kept after every event was finished or released", n)
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
