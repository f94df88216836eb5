// Package testwait bounds a test's waits for something the code under test might never
// do: past Limit the test fails, naming what it waited for, where a wait without a bound
// ran into go test's own timeout and ended the whole package's run with a goroutine dump.
package testwait

import (
	"testing"
	"time"
)

// Limit bounds every wait: generous, so that a loaded CI machine never reaches it, and far
// below go test's own timeout.
const Limit = 30 * time.Second

// Until polls cond every poll until it holds, and fails the test, naming what it waited
// for, if it does not within Limit.
func Until(t testing.TB, what string, poll time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: never", Limit, what)
		}
		time.Sleep(poll)
	}
}

// Recv receives from ch, and fails the test, naming what it waited for, if nothing comes
// within Limit: for a signal the code under test might never send.
func Recv[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(Limit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %v for %s: never", Limit, what)
		panic("unreachable")
	}
}
