//go:build race

package builtin

// reviewRaceEnabled: the race detector's build, which allocates more.
const reviewRaceEnabled = true
