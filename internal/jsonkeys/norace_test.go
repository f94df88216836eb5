//go:build !race

package jsonkeys

// raceEnabled: see race_test.go.
const raceEnabled = false
