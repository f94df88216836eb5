//go:build race

package adapter

// raceEnabled: the race detector's build, which runs the sync worker's applies five to ten
// times slower: TestEventFlood floods a fifth as much there.
const raceEnabled = true
