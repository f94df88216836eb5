//go:build race

package sync_test

// raceEnabled: the race detector's build, whose allocation counts are not the program's:
// allocation-count assertions skip there.
const raceEnabled = true
