package phone

import (
	"slices"
	"strings"
	"testing"
)

// TestRegionOf: a region as directories write it, a code or a name, in any case, with or
// without its accents, "&" or "and", "St." or "Saint"; nothing else.
func TestRegionOf(t *testing.T) {
	for in, want := range map[string]string{
		"DE": "DE", "de": "DE", " gb ": "GB", "DEU": "DE", "gbr": "GB", "USA": "US",
		"Germany": "DE", "GERMANY": "DE", "Deutschland": "DE", "  Germany\t": "DE",
		"United States": "US", "United States of America": "US", "U.S.": "US", "u.s.a.": "US",
		"UK": "GB", "United Kingdom": "GB", "Great Britain": "GB", "England": "GB",
		"Österreich": "AT", "Osterreich": "AT", "México": "MX", "Mexico": "MX",
		"Côte d’Ivoire": "CI", "Cote d'Ivoire": "CI", "cote divoire": "CI", "Ivory Coast": "CI",
		"St. Kitts & Nevis": "KN", "Saint Kitts and Nevis": "KN", "Bosnia and Herzegovina": "BA",
		"Korea, Republic of": "KR", "South Korea": "KR", "Korea": "KR", "North Korea": "KP",
		"Congo - Kinshasa": "CD", "Democratic Republic of the Congo": "CD", "Republic of the Congo": "CG",
		"Hong Kong": "HK", "Myanmar": "MM", "Burma": "MM", "The Netherlands": "NL", "Holland": "NL",
		"Czech Republic": "CZ", "Czechia": "CZ", "Türkiye": "TR", "Turkey": "TR", "Viet Nam": "VN",
		"日本": "JP", "대한민국": "KR",
		// Names in the languages of regionsgen's languages.
		"Allemagne": "DE", "Alemania": "DE", "Duitsland": "DE", "États-Unis": "US", "Etats Unis": "US",
		"Royaume-Uni": "GB", "Vereinigtes Königreich": "GB", "Espagne": "ES", "Spanien": "ES", "Suisse": "CH",
		"Svizzera": "CH", "Paesi Bassi": "NL", "Países Bajos": "NL", "Niederlande": "NL", "Brésil": "BR",
	} {
		if got, ok := RegionOf(in); !ok || got != want {
			t.Errorf("RegionOf(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", " ", "XX", "ZZ", "001", "Atlantis", "Federal Republic", "the", "Congo", "St.", "&", "-", "Georgia on my mind"} {
		if got, ok := RegionOf(in); ok {
			t.Errorf("RegionOf(%q) = %q; want none", in, got)
		}
	}
}

// TestRegionNames: every region has its English name and alpha-3 code among its names,
// and no two regions' names fold alike (namedRegions would drop such a name, silently).
func TestRegionNames(t *testing.T) {
	seen := map[string]string{}
	named := map[string]bool{}
	for _, r := range regionNames {
		code, names := r.code, r.names
		named[code] = true
		if _, ok := regions()[code]; !ok {
			t.Errorf("names of %s, a region emfa does not read", code)
		}
		if len(names) < 2 {
			t.Errorf("%s has names %q; want its English name and alpha-3 code at least", code, names)
		}
		for _, n := range names {
			k := foldName(n)
			if k == "" {
				t.Errorf("%s's name %q folds to nothing", code, n)
			}
			if other, ok := seen[k]; ok && other != code {
				t.Errorf("%q (%s) folds as a name of %s does", n, code, other)
			}
			seen[k] = code
		}
	}
	for code := range regions() {
		if !named[code] {
			t.Errorf("%s has no names", code)
		}
	}
	if got := foldName("  The St. Kitts-&-Nevis (Côte) "); got != strings.Join([]string{"saint", "kitts", "and", "nevis", "cote"}, " ") {
		t.Errorf("foldName: %q", got)
	}
}

// TestSaysCountry: a number with + in front, a tel: URI's too, reads alike in every
// region (so a caller need not look one up for it); any other may not.
func TestSaysCountry(t *testing.T) {
	for s, want := range map[string]bool{
		"+44 20 7946 0958": true, " +15550100199": true, "tel:+1-201-555-0123": true, "TEL:+33612345678": true,
		"0044 20 7946 0958": false, "020 7946 0958": false, "tel:0201": false, "": false,
	} {
		if got := SaysCountry(s); got != want {
			t.Errorf("SaysCountry(%q) = %v, want %v", s, got, want)
		}
		if !want || s == "" {
			continue
		}
		for _, region := range []string{"", "US", "AU", "AR", "BR"} {
			if a, b := must(Parse(s, "")), must(Parse(s, region)); a != b {
				t.Errorf("Parse(%q) = %q without a region, %q as %s's", s, a, b, region)
			}
		}
	}
}

func must(s string, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

func TestCalled(t *testing.T) {
	for code, want := range map[string]struct {
		name string
		cc   int
	}{
		"US": {"the United States", 1}, "de": {"Germany", 49}, "GB": {"the United Kingdom", 44},
		"NL": {"the Netherlands", 31}, "KY": {"the Cayman Islands", 1}, "DO": {"the Dominican Republic", 1},
		"IM": {"the Isle of Man", 44}, "CX": {"Christmas Island", 61}, "CZ": {"Czechia", 420},
		"IO": {"the British Indian Ocean Territory", 246}, "PH": {"the Philippines", 63},
		"CD": {"the Democratic Republic of the Congo", 243}, "CG": {"the Republic of the Congo", 242},
		"HK": {"Hong Kong", 852}, "MO": {"Macau", 853}, "MM": {"Myanmar", 95},
		"CI": {"Côte d’Ivoire", 225}, "TT": {"Trinidad & Tobago", 1},
	} {
		name, cc, ok := Called(code)
		if !ok || name != want.name || cc != want.cc {
			t.Errorf("Called(%q) = %q, %d, %v; want %q, %d", code, name, cc, ok, want.name, want.cc)
		}
	}
	for _, code := range []string{"", "XX", "DEU", "Germany"} {
		if name, cc, ok := Called(code); ok {
			t.Errorf("Called(%q) = %q, %d: want none", code, name, cc)
		}
	}
	// Every region has a name of its own, and the names that take "the" are these.
	var the []string
	for code := range regions() {
		name, _, ok := Called(code)
		if !ok || name == code {
			t.Errorf("Called(%q) = %q, %v: want its name", code, name, ok)
		}
		if strings.HasPrefix(name, "the ") {
			the = append(the, code)
		}
		// A name written to tell regions apart in a list reads badly in a sentence:
		// spoken must say such a region's name.
		if strings.Contains(name, " - ") || strings.Contains(name, " SAR ") || strings.HasSuffix(name, ")") {
			t.Errorf("Called(%q) = %q: a list's name; give spoken a sentence's", code, name)
		}
	}
	slices.Sort(the)
	want := []string{"AE", "AX", "BQ", "BS", "CC", "CD", "CF", "CG", "CK", "DO", "FK", "FO", "GB", "GM", "IM",
		"IO", "KM", "KY", "MH", "MP", "MV", "NL", "PH", "PS", "SB", "TC", "US", "VG", "VI"}
	if !slices.Equal(the, want) {
		t.Errorf("regions named with \"the\": %q\nwant %q", the, want)
	}
}
