package adapter

import (
	"strings"
	"testing"
)

// TestOktaRefusalsPastListedUnworded: an Okta batch's events refused past the
// maxListedRefusals whose reasons are kept are counted without words, as Auth0's entries
// are: each was worded (its place in the batch, the key it names twice quoted, the kind
// of value refused) for a log line that lists twenty, 13 to 15 allocations an event where 2 to 8 are now, and
// an event too short to name a uuid is refused unread (5 allocations, decoded to find no
// uuid). The twentieth is still worded, and the rest counted.
func TestOktaRefusalsPastListedUnworded(t *testing.T) {
	batch := func(ev string, n int) []byte {
		return []byte(`{"data":{"events":[` + strings.Repeat(ev+",", n) + okEv("ok", "user.lifecycle.suspend", "alice", 1) + `]}}`)
	}
	for _, tc := range []struct {
		event string
		max   float64
	}{
		// Now: the envelope's copy of the event, and encoding/json's refusal (2, 5, 5, 8).
		{`{"uuid":1}`, 3},
		{`{"uuid":"a","uuid":"b"}`, 6},
		{`{"uuid":"a","Uuid":"b"}`, 6}, // named twice in another case
		{`{"uuid":"a","target":"x"}`, 9},
		{`{}`, 3}, // the envelope's copy alone (2)
	} {
		p, err := readOkta("", batch(tc.event, 30))
		if err != nil {
			t.Fatalf("%s: %v", tc.event, err)
		}
		if p.nRefused != 30 || len(p.refused) != maxListedRefusals || !strings.HasPrefix(p.refused[maxListedRefusals-1], "data.events[19]") {
			t.Errorf("%s: %d refused, listed %q; want 30, the first 20 worded", tc.event, p.nRefused, p.refused)
		}
		if raceEnabled {
			continue // allocations are measured without the race detector
		}
		few, many := batch(tc.event, 100), batch(tc.event, 1100)
		a := testing.AllocsPerRun(3, func() { readOkta("", few) })
		b := testing.AllocsPerRun(3, func() { readOkta("", many) })
		if per := (b - a) / 1000; per > tc.max {
			t.Errorf("%s: %.1f allocations an event refused past the listed ones, want at most %.0f", tc.event, per, tc.max)
		}
	}
}
