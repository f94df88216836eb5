//go:build race

package provider

// raceEnabled: the race detector's build, whose allocation counts differ.
const raceEnabled = true
