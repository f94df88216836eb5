//go:build !race

package builtin

// reviewRaceEnabled: see zz_review_race_test.go.
const reviewRaceEnabled = false
