//go:build !race

package telemetry

// raceEnabled: see zz_review_race_test.go.
const raceEnabled = false
