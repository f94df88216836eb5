//go:build !race

package builtin

// raceEnabled: see race_test.go.
const raceEnabled = false
