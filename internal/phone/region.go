package phone

import (
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// RegionOf reads s as a region emfa reads national numbers of, as a directory may write
// it: an ISO 3166-1 alpha-2 code in any case ("de"), an alpha-3 code ("DEU"), or one of
// its names in names.go ("Germany", "Deutschland"), matched as foldName matches them
// ("Côte d'Ivoire" and "cote divoire", "St Kitts & Nevis" and "Saint Kitts and Nevis"
// alike). ok is false for anything else, a name two regions share included.
func RegionOf(s string) (code string, ok bool) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if _, ok := regions()[c]; ok {
		return c, true
	}
	if !strings.ContainsFunc(s, unicode.IsLetter) {
		return "", false // every code and name has letters ("&" alone is no Andorra)
	}
	code, ok = namedRegions()[foldName(s)]
	return code, ok
}

// namedRegions are regionNames by their folded names; a name that folds to another
// region's too is neither's.
var namedRegions = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	shared := map[string]bool{}
	for _, r := range regionNames {
		for _, n := range r.names {
			k := foldName(n)
			if other, ok := out[k]; ok && other != r.code {
				shared[k] = true
			}
			out[k] = r.code
		}
	}
	for k := range shared {
		delete(out, k)
	}
	return out
})

// foldName is a country's name as matched: letters and digits in lower case without their
// accents, words separated by one space, "&" as "and", "St" as "saint", a leading "the"
// dropped; apostrophes, dots, commas, hyphens and parentheses are no part of it.
func foldName(s string) string {
	var words []string
	var w strings.Builder
	end := func() {
		if w.Len() > 0 {
			words = append(words, w.String())
			w.Reset()
		}
	}
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r), r == '\'' || r == '\u2019' || r == '.':
			// an accent, or what joins a word's letters ("d'Ivoire", "U.S.")
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			w.WriteRune(unicode.ToLower(r))
		case r == '&':
			end()
			words = append(words, "and")
		default:
			end()
		}
	}
	end()
	if len(words) > 1 && words[0] == "the" {
		words = words[1:]
	}
	for i, w := range words {
		if w == "st" {
			words[i] = "saint"
		}
	}
	return strings.Join(words, " ")
}
