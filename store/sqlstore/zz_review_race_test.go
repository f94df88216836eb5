//go:build race

package sqlstore_test

const reviewRaceEnabled = true
