package suggest

import "testing"

func TestNearest(t *testing.T) {
	known := []string{"dryRun", "email", "listen", "state", "stats"}
	for _, c := range []struct{ in, want string }{
		{"dryrun", "dryRun"}, // case only
		{"emial", "email"},   // two letters swapped: one edit
		{"lisen", "listen"},  // one letter missing
		{"stat", "state"},    // equally close to state and stats: the first
		{"zzz", ""},          // nothing close
		{"a-very-long-name-indeed", ""},
	} {
		if got := Nearest(c.in, known); got != c.want {
			t.Errorf("Nearest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
