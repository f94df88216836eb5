//go:build race

package jsonkeys

// raceEnabled: the race detector's build, whose instrumentation allocates: allocation
// counts are asserted only without it.
const raceEnabled = true
