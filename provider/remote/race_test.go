//go:build race

package remote

// raceEnabled: the race detector's build, whose instrumentation allocates where the plain
// build does not: allocation counts are asserted only without it.
const raceEnabled = true
