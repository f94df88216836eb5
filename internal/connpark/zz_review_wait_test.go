package connpark

import (
	"testing"
	"time"
)

// waitLimit bounds every wait of a test: generous, so a loaded CI machine never reaches
// it, and far below go test's own timeout, which would end the whole package's run with a
// goroutine dump instead of naming what never happened.
const waitLimit = 30 * time.Second

// recvWithin receives from ch, and fails the test, naming what it waited for, if nothing
// comes within waitLimit: for a signal the code under test might never send.
func recvWithin[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %v for %s: never", waitLimit, what)
		panic("unreachable")
	}
}
