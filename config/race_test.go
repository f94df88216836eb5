//go:build race

package config

// raceEnabled: the race detector's allocations would count against an allocation bound.
const raceEnabled = true
