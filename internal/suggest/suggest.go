// Package suggest finds the known name a mistyped one was probably meant to be, for the
// "did you mean" of an unknown configuration key, query parameter or field.
package suggest

import "strings"

// Nearest is the name of known closest to s when it is close enough to be a typo: the same
// but for letter case, or at most max(1, len(s)/3) edits apart (a swap of two adjacent
// letters, "emial", is one). Of names equally close the first in known wins; "" when none
// is close.
func Nearest(s string, known []string) string {
	best, bestDist := "", max(1, len(s)/3)+1
	for _, k := range known {
		if strings.EqualFold(s, k) {
			return k
		}
		if len(s) > 2*len(k)+2 {
			continue // too far to be a typo; and the distance costs len(s)*len(k)
		}
		if d := distance(strings.ToLower(s), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the optimal string alignment distance between a and b: Levenshtein's,
// with two adjacent letters swapped one edit too.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
