//go:build !race

package remote

// reviewRace: see zz_review_initiate_race_test.go.
const reviewRace = false
