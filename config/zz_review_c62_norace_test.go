//go:build !race

package config

// raceEnabled: see zz_review_c62_race_test.go.
const raceEnabled = false
