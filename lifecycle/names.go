package lifecycle

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CheckNewName refuses a name a new user may not be given: one CheckName refuses, and
// one that could pass for another's or garble the line it is shown on. Two users that
// look alike in a listing or the audit trail ("alice" and "alice" with a ZERO WIDTH SPACE
// after it) let one pass for the other, and a bidirectional control (U+202E) makes the
// rest of a log line read backwards, so a new name may hold none of:
//
//   - a bidirectional control (Unicode's Bidi_Control: U+061C, U+200E, U+200F,
//     U+202A-U+202E, U+2066-U+2069);
//   - an invisible character: a format character (category Cf: U+200B-U+200D, U+2060,
//     U+FEFF, U+00AD SOFT HYPHEN, the tag characters...), a default-ignorable one (the
//     Hangul fillers, U+034F) or a variation selector;
//   - a space other than U+0020 (U+00A0 NO-BREAK SPACE, U+3000...) or a line or
//     paragraph separator (U+2028, U+2029);
//
// and it must be in Unicode normalization form C: "é" as U+00E9, not "e" and U+0301. A
// name in another form is refused, not normalised: a user's name is the key Verify sends
// byte for byte and the store matches byte for byte (but for ASCII case), so a user
// created under the NFC form of what the directory holds would never be found by the
// name Verify sends for it.
//
// The rule is for new names only (a creation: admin API, CLI, SCIM, import, directory
// events). A name stored before it keeps working everywhere a name is looked up: the
// contract, sign-in, updates and deletes check it by CheckName alone.
func CheckNewName(name string) *Error {
	if err := CheckName(name); err != nil {
		return err
	}
	if asciiText(name) {
		return nil // what nearly every name is: nothing hidden, and NFC
	}
	n := 0
	for _, r := range name {
		n++
		if what := hidden(r); what != "" {
			return invalid("invalid_field", "name", "holds %s, U+%04X, at character %d: a user's name may hold no invisible or direction-changing character, so that no two names look alike", what, r, n)
		}
	}
	if !norm.NFC.IsNormalString(name) {
		at := norm.NFC.QuickSpanString(name) // the name is NFC up to here
		end := at + norm.NFC.NextBoundaryInString(name[at:], true)
		if end <= at {
			end = len(name)
		}
		return invalid("invalid_field", "name", "is not in Unicode normalization form C (NFC): at character %d, %s is %s in NFC; send the name as %q",
			utf8.RuneCountInString(name[:at])+1, codePoints(name[at:end]), codePoints(norm.NFC.String(name[at:end])), norm.NFC.String(name))
	}
	return nil
}

// hidden says what kind of character CheckNewName refuses r as, or "".
func hidden(r rune) string {
	switch {
	case r == ' ' || r < utf8.RuneSelf && r > ' ':
		return ""
	case unicode.Is(unicode.Bidi_Control, r):
		return "a bidirectional control"
	case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), unicode.Is(unicode.Variation_Selector, r):
		return "an invisible character"
	case unicode.In(r, unicode.Zl, unicode.Zp):
		return "a line or paragraph separator"
	case unicode.Is(unicode.Zs, r):
		return "a space other than U+0020"
	}
	return ""
}

// codePoints is s as its code points are written: "U+0065 U+0301".
func codePoints(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "U+%04X", r)
	}
	return b.String()
}

// asciiText reports whether every byte of s is printable ASCII.
func asciiText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}
