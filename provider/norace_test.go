//go:build !race

package provider

// raceEnabled: see race_test.go.
const raceEnabled = false
