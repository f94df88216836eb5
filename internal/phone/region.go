package phone

import (
	"slices"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// RegionOf reads s as a region emfa reads national numbers of, as a directory may write
// it: an ISO 3166-1 alpha-2 code in any case ("de"), an alpha-3 code ("DEU"), or one of
// its names in names.go ("Germany", "Deutschland", "Allemagne"), matched as foldName matches them
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

// Called is how an English sentence names region code, and the region's calling code:
// "the United States" and 1, "Germany" and 49. The name is CLDR's English one (the first
// in names.go), with "the" in front where English puts it (theNamed), or spoken's where
// CLDR's is written for a list rather than a sentence. ok is false for a code of no region
// emfa reads numbers of.
func Called(code string) (name string, callingCode int, ok bool) {
	code = strings.ToUpper(code)
	r, ok := regions()[code]
	if !ok {
		return "", 0, false
	}
	i, found := slices.BinarySearchFunc(regionNames, code, func(e regionName, c string) int { return strings.Compare(e.code, c) })
	if !found {
		return code, r.cc, true // names.go names every region (TestRegionNames)
	}
	if name, ok := spoken[code]; ok {
		return name, r.cc, true
	}
	name = regionNames[i].names[0]
	if theNamed(name) {
		name = "the " + name
	}
	return name, r.cc, true
}

// spoken names, as a sentence does, the regions whose CLDR English name tells them apart
// in a list: "Congo - Kinshasa", "Hong Kong SAR China", "Myanmar (Burma)". TestCalled
// holds every other name free of such marks.
var spoken = map[string]string{
	"CD": "the Democratic Republic of the Congo",
	"CG": "the Republic of the Congo",
	"HK": "Hong Kong",
	"MO": "Macau",
	"MM": "Myanmar",
}

// theNamed reports whether English says "the" before a country's name: plural names
// ("the Netherlands", "the Cayman Islands") and names of a kind of state ("the United
// Kingdom", "the Dominican Republic"); TestCalled lists every name it covers.
func theNamed(name string) bool {
	last := name[strings.LastIndexByte(name, ' ')+1:]
	switch last {
	case "Islands", "Republic", "States", "Kingdom", "Emirates", "Territories", "Territory",
		"Netherlands", "Philippines", "Bahamas", "Gambia", "Maldives", "Comoros":
		return true
	}
	return strings.HasPrefix(name, "Isle of ")
}
