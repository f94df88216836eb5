//go:build !race

package provider

// reviewRace: see zz_review_race_test.go.
const reviewRace = false
