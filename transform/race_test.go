//go:build race

package transform

// raceEnabled: the race detector's build, whose compiler does not turn len([]rune(s)) into
// a count (cel-go's String.Size then allocates), so allocation bounds do not hold in it.
const raceEnabled = true
