//go:build !race

package adapter

// raceEnabled: see race_test.go.
const raceEnabled = false
