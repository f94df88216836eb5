//go:build !race

package telemetry

// raceEnabled: see race_test.go.
const raceEnabled = false
