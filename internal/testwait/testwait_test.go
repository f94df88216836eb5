package testwait

import (
	"testing"
	"time"
)

// TestWaits: Until returns once its condition holds, Recv with what was sent.
func TestWaits(t *testing.T) {
	n := 0
	Until(t, "the third poll", time.Millisecond, func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
	ch := make(chan int, 1)
	ch <- 7
	if got := Recv(t, "the value", ch); got != 7 {
		t.Errorf("received %d, want 7", got)
	}
}
