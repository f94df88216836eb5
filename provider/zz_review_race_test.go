//go:build race

package provider

// reviewRace: the race detector's build, whose allocation counts differ.
const reviewRace = true
