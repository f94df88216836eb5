//go:build !race

package config

// raceEnabled: see race_test.go.
const raceEnabled = false
