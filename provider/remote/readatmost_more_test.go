package remote

import (
	"runtime"
	"strings"
	"testing"
)

// TestAnnouncedLengthRoom: the room readAtMost makes before reading is bounded
// whatever length is announced. Under a raised limit, a vendor that announces 256 MiB
// and sends 5 bytes (or none, until the call's deadline) cost 256 MiB a call, made at
// once from its header alone.
func TestAnnouncedLengthRoom(t *testing.T) {
	const announced = 256 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := readAtMost(strings.NewReader("hello"), announced+1, announced)
	runtime.ReadMemStats(&after)
	if err != nil || string(got) != "hello" {
		t.Fatalf("readAtMost: %q, %v; want hello", got, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("readAtMost of 5 bytes announced as %d allocated %d bytes; want at most 4 MiB", announced, n)
	}
}
