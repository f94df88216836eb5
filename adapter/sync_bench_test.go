package adapter

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"
)

// TestEventFlood: 10,000 Okta events in 100 deliveries are all queued at once (each
// answered within Okta's 3 seconds) and all applied, none dropped. Under the race
// detector, which slows every apply five to ten times (2,000 events in 20 deliveries took
// two of the package's ten minutes on a loaded machine), 500 in 5: still five of the
// queue's batches of 100, and the answer's time is not held to Okta's limit.
func TestEventFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("applies 10,000 events")
	}
	deliveries := 100
	if raceEnabled {
		deliveries = 5
	}
	total := deliveries * 100
	h := newSyncHarness(t)
	start := time.Now()
	for b := range deliveries {
		var evs []string
		for i := range 100 {
			evs = append(evs, okEv(fmt.Sprintf("f%d-%d", b, i), "user.lifecycle.create", fmt.Sprintf("flood%05d", b*100+i), i%60))
		}
		t0 := time.Now()
		if code, _, _ := h.do("POST", OktaPath, oktaBatch(evs...), "X-Okta-Secret", testSecret); code != 204 {
			t.Fatalf("delivery %d: %d", b, code)
		}
		if d := time.Since(t0); d > 3*time.Second && !raceEnabled {
			t.Fatalf("delivery %d answered in %s", b, d)
		}
	}
	queued := time.Since(start)
	st, err := h.q.Status(t.Context())
	if err != nil || st.Counts["okta"]["pending"] != total {
		t.Fatalf("queued %+v %v", st, err)
	}
	h.drain()
	st, _ = h.q.Status(t.Context())
	if st.Counts["okta"]["done"] != total {
		t.Fatalf("applied %+v", st)
	}
	t.Logf("%d events queued in %s, applied in %s", total, queued, time.Since(start)-queued)
}

func BenchmarkSCIMCreateUser(b *testing.B) {
	h := newSyncHarness(b)
	for i := 0; b.Loop(); i++ {
		code, _, _ := h.scim("POST", "/Users", fmt.Sprintf(`{"userName":"u%07d","emails":[{"value":"u%d@example.com","primary":true}],"active":true}`, i, i))
		if code != 201 {
			b.Fatalf("create: %d", code)
		}
	}
}

func BenchmarkSCIMFilterUserName(b *testing.B) {
	h := newSyncHarness(b)
	for i := range 1000 {
		h.scim("POST", "/Users", fmt.Sprintf(`{"userName":"u%07d"}`, i))
	}
	i := 0
	for b.Loop() {
		q := "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "u%07d"`, i%1000))
		if code, _, _ := h.scim("GET", q, ""); code != 200 {
			b.Fatalf("filter: %d", code)
		}
		i++
	}
}

// BenchmarkMemberEvents is a directory's PATCH adding one member to a group of 50,000:
// the events it makes. Each list searched through the other took seconds.
func BenchmarkMemberEvents(b *testing.B) {
	have := make([]string, 50000)
	for i := range have {
		have[i] = fmt.Sprintf("u%07d", i)
	}
	want := append(slices.Clone(have), "new")
	for b.Loop() {
		if evs := memberEvents("g", have, want); len(evs) != 1 {
			b.Fatalf("events: %d", len(evs))
		}
	}
}
