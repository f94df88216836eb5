//go:build race

package builtin

// raceEnabled: the race detector's build, which allocates more.
const raceEnabled = true
