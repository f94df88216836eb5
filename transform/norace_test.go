//go:build !race

package transform

// raceEnabled: see race_test.go.
const raceEnabled = false
