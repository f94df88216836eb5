package lifecycle

import (
	"strings"
	"unicode"

	"github.com/emfa/emfa/provider/builtin/delivery"
)

// ErrPhoneForm is a phone number typed on the page that does not say its country (or
// is no phone number): the page asks for it with + and the country code.
var ErrPhoneForm = &Error{Kind: Invalid, Code: "invalid_phone", Field: "destination",
	Msg: "type the phone number with + and the country code, like +1 555 010 0199 or +44 20 7946 0958"}

// typedPhone is a phone number as a person types it on the page, in the E.164 form
// factors store: "+1 (555) 010-0199" → "+15550100199", "0044 20 7946 0958" and
// "+44 (0)20 7946 0958" → "+442079460958". Only where that is unambiguous: the number
// must say its country, with + or the international prefix 00; a national number
// ("020 7946 0958", "555-0199") could be any country's, and is refused (false), as is
// anything but digits and the spaces, dots, dashes, slashes and parentheses people group
// them with.
func typedPhone(typed string) (string, bool) {
	s := strings.TrimSpace(typed)
	// "(0)" is the trunk prefix some write after the country code: dialled from abroad,
	// it is left out.
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00") {
		s = strings.Replace(s, "(0)", "", 1)
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case unicode.IsSpace(r), r == '-', r == '.', r == '/', r == '(', r == ')', r == '\u2010', r == '\u2011', r == '\u2013':
		default:
			return "", false
		}
	}
	n := b.String()
	if rest, ok := strings.CutPrefix(n, "00"); ok {
		n = "+" + rest
	}
	if !delivery.ValidE164(n) {
		return "", false
	}
	return n, true
}
