// Package phone reads phone numbers as people and directories write them ("+1 (555)
// 010-0199", "0044 20 7946 0958", "020 7946 0958") into the one form emfa stores and
// sends codes to: E.164, "+442079460958".
//
// A number that says its country (a leading +, or the international prefix 00) is read
// anywhere. A national number ("020 7946 0958") is read only as a given region's: its
// trunk prefix dropped, its length checked against that region's fixed-line and mobile
// numbers, its country code put in front. Seven regions' national numbers hold carrier
// codes or mobile tokens that change the number (Argentina's "011 15 2345 6789" is
// +54 9 11 2345 6789): those are read by libphonenumber's own rules for them, and must
// match the region's pattern of numbers too. Without a region a national number is
// refused, as it could be any country's. The regions' facts come from libphonenumber's
// metadata (regions.go, written by regionsgen).
package phone

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

//go:generate sh -c "cd regionsgen && go run . > ../regions.go && go run . -examples > ../examples_test.go && go run . -names > ../names.go"

// region is what reading a national number of one region takes.
type region struct {
	cc    int    // the country calling code: 44
	trunk string // the trunk prefix a national number is dialled with: "0", "1" (NANP), "8", "06"
	idd   string // the international prefix dialled there, when not 00: "011" (NANP), "0011"
	lens  uint32 // the lengths of a national significant number, a bit each
	first uint16 // the digits a national significant number may start with, a bit each
}

// plan is the regions of one calling code taken together.
type plan struct {
	lens   uint32   // the lengths of their national significant numbers, a bit each
	first  uint16   // the digits those numbers may start with, a bit each
	trunks []string // their trunk prefixes
}

// rule is how a region whose national numbers hold carrier codes or mobile tokens reads
// them: libphonenumber's patterns, compiled on the region's first number.
type rule struct {
	prefix    string // the national prefix for parsing: the trunk prefix, with a carrier code or a mobile token
	transform string // what replaces the prefix matched, as regexp.Expand reads it; "" drops it
	idd       string // the international prefix, with the carrier codes dialled with it
	valid     string // a national significant number

	once                     sync.Once
	prefixRE, iddRE, validRE *regexp.Regexp
}

func (x *rule) compile() {
	x.once.Do(func() {
		x.prefixRE = regexp.MustCompile(`^(?:` + x.prefix + `)`)
		x.iddRE = regexp.MustCompile(`^(?:` + x.idd + `)`)
		x.validRE = regexp.MustCompile(`^(?:` + x.valid + `)$`)
	})
}

// international is how many of d's first digits are the region's international prefix
// with a carrier code ("0021" in Brazil), when they are followed by a calling code; 0 when
// they are not. A number with 00 alone in front is left to Parse's reading of 00.
func (x *rule) international(d string) int {
	x.compile()
	loc := x.iddRE.FindStringIndex(d)
	if loc == nil || loc[1] == 0 || callingCodeOf(d[loc[1]:]) == "" {
		return 0
	}
	return loc[1]
}

// national reads d, a number as dialled within region r, the way libphonenumber does: the
// national prefix for parsing (with its carrier code) dropped or transformed, unless the
// number was valid as written and would not be after it, or what is left has no length of
// r's. It is r's national significant number when it matches r's pattern.
func (x *rule) national(r region, d string) (string, bool) {
	x.compile()
	n := d
	if m := x.prefixRE.FindStringSubmatchIndex(d); m != nil {
		last := len(m)/2 - 1
		var cut string
		if x.transform == "" || last == 0 || m[2*last] < 0 {
			cut = d[m[1]:]
		} else {
			cut = string(x.prefixRE.ExpandString(nil, x.transform, d, m)) + d[m[1]:]
		}
		if r.fits(cut) && (x.validRE.MatchString(cut) || !x.validRE.MatchString(d)) {
			n = cut
		}
	}
	return n, r.fits(n) && x.validRE.MatchString(n)
}

// callingCodeOf is the assigned country calling code d starts with ("" for none). No code
// is the start of another, so there is at most one.
func callingCodeOf(d string) string {
	for l := 1; l <= 3 && l <= len(d); l++ {
		if c, err := strconv.Atoi(d[:l]); err == nil && slices.Contains(callingCodes, c) {
			return d[:l]
		}
	}
	return ""
}

// minNational is the fewest digits of any region's national number (with its trunk
// prefix): fewer make no phone number anywhere.
const minNational = 4

var (
	// ErrNotNumber is text that is no phone number: a letter, a second +, too few or
	// too many digits.
	ErrNotNumber = errors.New("not a phone number")
	// ErrNoCountry is a national number read without a region: it could be any
	// country's.
	ErrNoCountry = errors.New("does not say its country")
)

// ErrCallingCode is a number that says its country (+, 00) with no assigned country
// calling code after it: "+28...", "+0...".
var ErrCallingCode = errors.New("has no country's calling code after the + (+1, +44, +49...)")

// ErrExtension is a number with an extension (RFC 3966's ";ext=1234", as a directory may
// send a desk phone's): an SMS or a voice call reaches the number, never an extension of
// it, so the number without it is the one to give. Said only of a number that reads
// without it.
var ErrExtension = errors.New("has an extension (;ext=): an SMS or a voice call dials none; drop it")

// CodeLengthError is a number that says its country, with a number of digits after its
// calling code that no fixed-line or mobile number there has: a digit too many or too few.
type CodeLengthError struct {
	Code   string // the calling code: "44"
	Digits int    // the digits after it
}

func (e *CodeLengthError) Error() string {
	return fmt.Sprintf("is not a phone number of +%s (%d digits after it; a digit too many or too few?)", e.Code, e.Digits)
}

// LengthError is a national number whose length no fixed-line or mobile number of its
// region has: not that region's number (or one mistyped).
type LengthError struct {
	Region string
	Digits int
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("is not a phone number of %s (%d digits)", e.Region, e.Digits)
}

// ValidE164 reports whether s is a phone number in E.164 form: '+', then 7 to 15 digits,
// the first not 0 (the shortest in use, Niue's and Tokelau's, have 7: +683 4002). Spaces,
// dashes and parentheses are not accepted: factors store the one form.
func ValidE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CheckRegion says why code (an ISO 3166-1 alpha-2 code, any case) cannot be the region
// national numbers are read as, a predicate to follow the code ("is not..."); nil when it
// can.
func CheckRegion(code string) error {
	c := strings.ToUpper(code)
	if _, ok := regions()[c]; ok {
		return nil
	}
	if named, ok := RegionOf(code); ok {
		// A name or an alpha-3 code ("Germany", "DEU", "UK"): the code it stands for.
		return fmt.Errorf("is not an ISO 3166-1 alpha-2 code: that country's is %q", named)
	}
	return errors.New("is not a region's ISO 3166-1 alpha-2 code (US, GB, DE...)")
}

// unwrapTel is s without the spaces around it and a tel: URI's scheme, as SCIM suggests a
// directory send a number (RFC 7643 §2.3.x, RFC 3966: "tel:+1-201-555-0123"); a parameter
// such as ";ext=" is left for Parse to refuse.
func unwrapTel(s string) string {
	t := strings.TrimSpace(s)
	if len(t) > 4 && strings.EqualFold(t[:4], "tel:") {
		t = t[4:]
	}
	return t
}

// hasExtension reports whether params, a tel: URI's after the number's first ';', has
// RFC 3966's ext (any case, as its parameter names are).
func hasExtension(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		if name, _, _ := strings.Cut(p, "="); strings.EqualFold(strings.TrimSpace(name), "ext") {
			return true
		}
	}
	return false
}

// SaysCountry reports whether s is written with + in front (a tel: URI's too): Parse reads
// such a number alike whatever region it is given, so none need be found for it.
func SaysCountry(s string) bool { return strings.HasPrefix(unwrapTel(s), "+") }

// Parse returns s in E.164 form. s may be a tel: URI, and may group its digits with
// spaces, dots, dashes, slashes and parentheses, and write the trunk prefix after the country code as "(0)"
// ("+44 (0)20 7946 0958"). A number with + or 00 in front says its country; so does one
// with the international prefix of regionCode, where that is not 00 ("011 44 20 7946
// 0958" in the United States); it must start with an assigned calling code
// (ErrCallingCode) followed by a length of that code's numbers (*CodeLengthError). Any
// other is national: regionCode's ("" refuses it, ErrNoCountry). regionCode must pass
// CheckRegion, or be "". A number with an extension is refused as such (ErrExtension)
// when it reads without it.
func Parse(s, regionCode string) (string, error) {
	t := unwrapTel(s)
	if number, params, ok := strings.Cut(t, ";"); ok && hasExtension(params) {
		if _, err := parse(number, regionCode); err != nil {
			return "", err
		}
		return "", ErrExtension
	}
	return parse(t, regionCode)
}

// parse is Parse of t, a number without a tel: URI's scheme.
func parse(t, regionCode string) (string, error) {
	plus := strings.HasPrefix(t, "+")
	if plus || strings.HasPrefix(t, "00") {
		// Dialled from abroad, the trunk prefix is left out.
		t = strings.Replace(t, "(0)", "", 1)
	}
	var b strings.Builder
	for i, r := range t {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case unicode.IsSpace(r), r == '-', r == '.', r == '/', r == '(', r == ')', r == '\u2010', r == '\u2011', r == '\u2013':
		default:
			return "", ErrNotNumber
		}
	}
	d := b.String()
	var r region
	var x *rule
	if regionCode != "" {
		code := strings.ToUpper(regionCode)
		var ok bool
		if r, ok = regions()[code]; !ok {
			return "", fmt.Errorf("phone: region %q: %w", regionCode, CheckRegion(regionCode))
		}
		x = rules()[code]
	}
	idd := 0
	if x != nil && !plus {
		idd = x.international(d)
	}
	intl := true
	switch {
	case plus:
	case idd > 0:
		d = d[idd:]
	case strings.HasPrefix(d, "00") && (regionCode == "" || r.idd == "" || !strings.HasPrefix(r.trunk, "0")):
		// 00 is the international prefix of most of the world; where it is not (the
		// NANP's is 011), it still is where no national number starts with 0.
		d = d[2:]
	case r.idd != "" && strings.HasPrefix(d, r.idd):
		d = d[len(r.idd):]
	case regionCode == "":
		intl = false
		if len(d) < minNational {
			return "", ErrNotNumber
		}
		return "", ErrNoCountry
	default:
		intl = false
		n, ok := r.national(d)
		if x != nil {
			n, ok = x.national(r, d)
		}
		if !ok {
			if len(d) == 0 {
				return "", ErrNotNumber
			}
			return "", &LengthError{Region: strings.ToUpper(regionCode), Digits: len(d)}
		}
		d = strconv.Itoa(r.cc) + n
	}
	e := "+" + d
	if !ValidE164(e) {
		return "", ErrNotNumber
	}
	if intl {
		return international(d)
	}
	return e, nil
}

// minNonGeographic is the fewest digits, with its calling code, of a number of a code
// that is no country's (+800's have 11, +882's and +883's 9 or more).
const minNonGeographic = 8

// international is d, the digits of a number with its country calling code in front, in
// E.164 form: its calling code one that is assigned, and what follows it of a length some
// fixed-line or mobile number of that code's regions has. Written with the trunk prefix
// after the calling code ("+44 020 7946 0958", as "+44 (0)20..." without the
// parentheses), the prefix is dropped where that leaves such a length. A non-geographic
// code (+800, +882...) has no lengths in the table: any length of 8 digits or more is
// taken there (none of theirs is shorter; only a few countries' are).
func international(d string) (string, error) {
	cc := callingCodeOf(d)
	if cc == "" {
		return "", ErrCallingCode
	}
	n := d[len(cc):]
	p, ok := plans()[cc]
	switch {
	case !ok && len(d) < minNonGeographic:
		return "", &CodeLengthError{Code: cc, Digits: len(n)}
	case !ok || p.fits(n):
		return "+" + d, nil
	}
	for _, t := range p.trunks {
		if rest, ok := strings.CutPrefix(n, t); ok && p.fits(rest) && ValidE164("+"+cc+rest) {
			return "+" + cc + rest, nil
		}
	}
	return "", &CodeLengthError{Code: cc, Digits: len(n)}
}

// plans are the regions of each calling code taken together ("1": the NANP's, "44": GB,
// GG, IM and JE): the lengths of their national numbers and their trunk prefixes.
var plans = sync.OnceValue(func() map[string]plan {
	out := map[string]plan{}
	for _, r := range regions() {
		cc := strconv.Itoa(r.cc)
		p := out[cc]
		p.lens |= r.lens
		p.first |= r.first
		if r.trunk != "" && !slices.Contains(p.trunks, r.trunk) {
			p.trunks = append(p.trunks, r.trunk)
			slices.Sort(p.trunks)
		}
		out[cc] = p
	}
	return out
})

// national is d, a number as dialled within r, without its trunk prefix: the national
// significant number, when its length is one of r's and its first digit one that numbers
// of r's calling code start with. The prefix is dropped only where what is left is such
// a number (Russia's trunk prefix is 8, and so is the first digit of its free numbers,
// 800...); kept, it must be one too (no number of GB's starts with 0, so "030 901821"
// there is refused, not read as +44 030901821).
func (r region) national(d string) (string, bool) {
	if rest, ok := strings.CutPrefix(d, r.trunk); ok && r.trunk != "" && r.fits(rest) {
		return rest, true
	}
	return d, r.fits(d)
}

func (r region) fits(n string) bool {
	return fits(r.lens, n) && plans()[strconv.Itoa(r.cc)].starts(n)
}

// fits reports whether n, what follows the calling code, has a length and a first digit
// of the plan's numbers.
func (p plan) fits(n string) bool { return fits(p.lens, n) && p.starts(n) }

// starts reports whether n starts with a digit the plan's numbers start with.
func (p plan) starts(n string) bool {
	return n != "" && n[0] >= '0' && n[0] <= '9' && p.first&(1<<(n[0]-'0')) != 0
}

// fits reports whether n has one of the lengths in lens (a bit each).
func fits(lens uint32, n string) bool {
	return len(n) > 0 && len(n) < 32 && lens&(1<<len(n)) != 0
}
