package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPendingFromClockAhead: an event or a propagation queued by a replica or CLI whose clock
// is an hour ahead is claimed by the workers at once (the claim takes a row its writer left
// due at a time past now + MaxFutureSkew as due now), so `emfa sync pending` says it waits
// for its turn ("queued"), without a next attempt; before, it said "backoff" until a time an
// hour ahead, which no worker waits for. A backoff a worker set is still one, and so is a
// row queued by a clock less than MaxFutureSkew ahead, which the claim waits for.
func TestPendingFromClockAhead(t *testing.T) {
	cfg := writeConfig(t, "")
	ahead := time.Now().Add(time.Hour).Truncate(time.Second)
	near := time.Now().Add(time.Minute).Truncate(time.Second)
	syncDB(t, cfg,
		queueRow(1, "okta", "user.disable", "user:bob", "pending", 0, ahead, "", ahead),
		// written by a worker whose clock is right: its backoff ends an hour from now
		queueRow(2, "okta", "user.update", "user:carol", "pending", 1, ahead, "vendor down", time.Now()),
		// queued by a clock a minute ahead, within MaxFutureSkew: the claim waits for it
		queueRow(3, "okta", "user.update", "user:dave", "pending", 0, near, "", near),
	)
	var views []map[string]any
	for line := range strings.Lines(mustEmfa(t, "sync", "pending", "--json", "--config", cfg)) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		views = append(views, v)
	}
	if len(views) != 3 {
		t.Fatalf("pending: %v", views)
	}
	if views[0]["waiting"] != "queued" || views[0]["next_attempt"] != nil {
		t.Errorf("queued by a clock an hour ahead: waiting %v, next attempt %v; want queued, none", views[0]["waiting"], views[0]["next_attempt"])
	}
	if views[1]["waiting"] != "backoff" || views[1]["next_attempt"] != ahead.UTC().Format(time.RFC3339) {
		t.Errorf("a backoff a worker set: waiting %v, next attempt %v; want backoff, %s", views[1]["waiting"], views[1]["next_attempt"], ahead.UTC().Format(time.RFC3339))
	}
	if views[2]["waiting"] != "backoff" || views[2]["next_attempt"] != near.UTC().Format(time.RFC3339) {
		t.Errorf("queued by a clock a minute ahead: waiting %v, next attempt %v; want backoff, %s", views[2]["waiting"], views[2]["next_attempt"], near.UTC().Format(time.RFC3339))
	}
}
