package delivery

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/emfa/emfa/internal/phone"
)

// maxEmailLength is the longest address SMTP can carry (RFC 5321 §4.5.3.1.3 as amended by
// erratum 1690: a 256-octet path minus the angle brackets).
const maxEmailLength = 254

// ValidE164 reports whether s is a phone number in E.164 form: '+', then 7 to 15 digits, the
// first not 0. Spaces, dashes and parentheses are not accepted: factors store the one form
// (phone.Parse reads the others into it).
func ValidE164(s string) bool { return phone.ValidE164(s) }

// ValidEmail reports whether s is one bare e-mail address (no display name, no list, no
// group), and returns it normalised: surrounding space and angle brackets removed, the domain
// lower-cased. The local part keeps its case, which RFC 5321 leaves to the receiving server.
// A local part that needs quoting ("john doe"@example.com) is refused: net/mail returns it
// unquoted, a form that no longer parses, and no real mailbox of a user needs one.
func ValidEmail(s string) (normalized string, ok bool) {
	a, err := mail.ParseAddress(s)
	// net/mail also takes a comment as the name ("a@example.com (Alice)").
	if err != nil || a.Name != "" || len(a.Address) > maxEmailLength {
		return "", false
	}
	i := strings.LastIndexByte(a.Address, '@')
	if i <= 0 || i == len(a.Address)-1 {
		return "", false
	}
	normalized = a.Address[:i+1] + strings.ToLower(a.Address[i+1:])
	if again, err := mail.ParseAddress(normalized); err != nil || again.Address != normalized {
		return "", false
	}
	return normalized, true
}

// MailboxKey is the one form of every spelling of a mailbox, for counting sends to it and
// telling a second enrollment of it: the address lower-cased, its domain in the A-label
// form the SMTP sender sends to, so that bücher.example, its A-label xn--bcher-kva.example,
// a full-width or decomposed letter in it, all name the one domain they reach. An address
// whose domain IDNA refuses is only lower-cased.
func MailboxKey(address string) string {
	if a, ok := ASCIIDomain(address); ok {
		address = a
	}
	return strings.ToLower(address)
}

// MaskPhone hides most of a phone number for display, keeping what lets its owner recognise it:
// the country code and the last digits.
//
//	"+15551230123"  → "+1 ***-***-0123"  (NANP: +1 and ten digits)
//	"+447911123456" → "+44 ******3456"   (the country code, then the national number masked
//	                                      but for its last four digits)
//	"+35312345"     → "+353 ***45"       (never more than half the national number shown)
//	"555-0123"      → "***"              (not E.164: nothing shown)
//
// The country code is found with ITU-T E.164's assignment (codes are prefix-free: 1 and 7 are
// one digit, a fixed list two, the rest three).
func MaskPhone(s string) string {
	if !ValidE164(s) {
		return "***"
	}
	digits := s[1:]
	if len(digits) == 11 && digits[0] == '1' {
		return "+1 ***-***-" + digits[7:]
	}
	cc := countryCodeLen(digits)
	national := digits[cc:]
	shown := min(4, len(national)/2)
	return "+" + digits[:cc] + " " + strings.Repeat("*", len(national)-shown) + national[len(national)-shown:]
}

// twoDigitCountryCodes are the E.164 country codes of two digits; with the one-digit codes 1
// (NANP) and 7 (Russia, Kazakhstan), every other code is three digits long.
var twoDigitCountryCodes = map[string]bool{
	"20": true, "27": true,
	"30": true, "31": true, "32": true, "33": true, "34": true, "36": true, "39": true,
	"40": true, "41": true, "43": true, "44": true, "45": true, "46": true, "47": true, "48": true, "49": true,
	"51": true, "52": true, "53": true, "54": true, "55": true, "56": true, "57": true, "58": true,
	"60": true, "61": true, "62": true, "63": true, "64": true, "65": true, "66": true,
	"81": true, "82": true, "84": true, "86": true,
	"90": true, "91": true, "92": true, "93": true, "94": true, "95": true, "98": true,
}

// countryCodeLen is the length of the country code that starts digits (at least 8 digits).
func countryCodeLen(digits string) int {
	switch {
	case digits[0] == '1' || digits[0] == '7':
		return 1
	case twoDigitCountryCodes[digits[:2]]:
		return 2
	}
	return 3
}

// MaskEmail hides the local part of an e-mail address for display: its first character stays,
// the rest becomes "***" whatever its length; the domain stays. It matches the maskEmail
// function of emfa's CEL dialect.
//
//	"alice@example.com" → "a***@example.com"
//	"@example.com"      → "***@example.com"
//	"bob"               → "b***"
func MaskEmail(s string) string {
	if s == "" {
		return ""
	}
	// A quoted local part may itself hold an '@'; the domain follows the last one.
	i := strings.LastIndexByte(s, '@')
	local, domain := s, ""
	if i >= 0 {
		local, domain = s[:i], s[i:]
	}
	masked := "***"
	if r, size := utf8.DecodeRuneInString(local); size > 0 && r != utf8.RuneError {
		masked = string(r) + masked
	}
	return masked + domain
}
