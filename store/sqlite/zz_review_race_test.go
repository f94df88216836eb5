//go:build race

package sqlite_test

const reviewRaceEnabled = true
