//go:build !race

package main

// raceEnabled: allocation counts are off under -race.
const raceEnabled = false
