//go:build race

package telemetry

// raceEnabled: the race detector's build, which allocates more.
const raceEnabled = true
