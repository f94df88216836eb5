package sqlite

import (
	"testing"
	"time"
)

// TestCheckpointClosesIn: the checkpointer comes closingIn times sooner once the log
// is within twice what it lately grew in an interval of the writer's backstop, so that the
// backstop, which runs inside a commit, finds little to copy; it remembers a burst for a
// while, and goes back to its pace after the log has started over.
func TestCheckpointClosesIn(t *testing.T) {
	const every = 100 * time.Millisecond
	c := &checkpointer{every: every, backstop: 16000}
	peak := 0
	steps := []struct {
		pages, last int
		since       time.Duration
		want        time.Duration
	}{
		{700, 0, every, every},                               // far from the backstop
		{14000, 13300, every, every},                         // 14,000 + 2 × 700 < 16,000
		{14700, 14000, every, every / closingIn},             // 14,700 + 2 × 700 ≥ 16,000
		{14770, 14700, every / closingIn, every / closingIn}, // still closing in: 700 a full interval
		{12500, 12490, every, every / closingIn},             // a burst of 2,000 an interval, remembered (× 0.9)
		{300, 15900, every, every},                           // started over: 300 pages
	}
	for i, s := range steps {
		if i == 4 {
			peak = 2000 // as after a burst of 2,000 pages in an interval
		}
		if got := c.next(s.pages, s.last, s.since, &peak); got != s.want {
			t.Errorf("step %d: next(%d, %d, %v) = %v, want %v (peak %d)", i, s.pages, s.last, s.since, got, s.want, peak)
		}
	}
	// Without a backstop (none known), the pace never changes.
	c.backstop, peak = 0, 0
	if got := c.next(15999, 14000, every, &peak); got != every {
		t.Errorf("without a backstop: %v, want %v", got, every)
	}
}
