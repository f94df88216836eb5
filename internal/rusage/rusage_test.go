package rusage

import "testing"

// TestProcessCounts: CPU spent shows in what Process reads.
func TestProcessCounts(t *testing.T) {
	before := Process()
	x := 0
	for i := range 50_000_000 {
		x ^= i * i
	}
	if after := Process(); after <= before {
		t.Errorf("Process read %v after a busy loop (%d), %v before it", after, x, before)
	}
}
