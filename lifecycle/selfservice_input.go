package lifecycle

import (
	"errors"

	"github.com/emfa/emfa/internal/phone"
)

// ErrPhoneForm is a phone number typed on the page that does not say its country (or
// is no phone number): the page asks for it with + and the country code.
var ErrPhoneForm = &Error{Kind: Invalid, Code: "invalid_phone", Field: "destination",
	Msg: "type the phone number with + and the country code, like +1 555 010 0199 or +44 20 7946 0958"}

// ErrPhoneDigits is a phone number typed on the page with its country's calling code, but
// a digit too many or too few for any number there: the page says so, rather than ask
// for the + and the country code it has.
var ErrPhoneDigits = &Error{Kind: Invalid, Code: "invalid_phone", Field: "destination",
	Msg: "the phone number has a digit too many or too few for its country"}

// ErrPhoneCallingCode is a phone number typed on the page with a + (or 00) followed by no
// country's calling code.
var ErrPhoneCallingCode = &Error{Kind: Invalid, Code: "invalid_phone", Field: "destination",
	Msg: "no country's calling code follows the + of the phone number"}

// ErrPhoneNational is a phone number typed on the page without its country's calling
// code, read as a number of the user's country (PhoneCountry), which is of a length or a
// first digit none of that country's numbers has: mistyped, or another country's.
var ErrPhoneNational = &Error{Kind: Invalid, Code: "invalid_phone", Field: "destination",
	Msg: "the phone number is none of its country's: check it, or type it with + and the country code if it is another country's"}

// typedPhone is a phone number as a person types it on the page, in the E.164 form
// factors store: "+1 (555) 010-0199" → "+15550100199", "0044 20 7946 0958" and
// "+44 (0)20 7946 0958" → "+442079460958" (phone.Parse). A national number ("020 7946
// 0958") is read as country's (the user's, else Options.DefaultCountry); without one it
// could be any country's, and is refused (ErrPhoneForm), as is a number of no country's
// calling code (ErrPhoneCallingCode) or of a length none of its country's numbers has
// (ErrPhoneDigits; ErrPhoneNational for a national number).
func typedPhone(typed, country string) (string, *Error) {
	n, err := phone.Parse(typed, country)
	var digits *phone.CodeLengthError
	var national *phone.LengthError
	switch {
	case err == nil:
		return n, nil
	case errors.As(err, &digits):
		return "", ErrPhoneDigits
	case errors.As(err, &national):
		return "", ErrPhoneNational
	case errors.Is(err, phone.ErrCallingCode):
		return "", ErrPhoneCallingCode
	}
	return "", ErrPhoneForm
}

// phoneRegion is the country a national phone number of a user's is read as, and whose
// country it is, for a refusal to name: the user's own (UserInput.Country) when it has
// one, else the deployment's (Options.DefaultCountry, "" for none).
type phoneRegion struct{ code, whose string }

func phoneCountry(own, deployment string) phoneRegion {
	if own != "" {
		return phoneRegion{own, "the user's country"}
	}
	return phoneRegion{deployment, "lifecycle.defaultCountry"}
}

// readPhone reads a phone number given for field (a profile's, an enrollment's) into
// E.164, a national number as r's; the refusal says what the number lacks.
func readPhone(field, s string, r phoneRegion) (string, *Error) {
	n, err := phone.Parse(s, r.code)
	if err == nil {
		return n, nil
	}
	var short *phone.LengthError
	var long *phone.CodeLengthError
	switch {
	case errors.Is(err, phone.ErrNoCountry):
		return "", invalid("invalid_phone", field, "%q does not say its country: write it with + and the country code (+44 20 7946 0958), or give the user's country (country), or set lifecycle.defaultCountry to the country whose national numbers these are", s).quoting(s)
	case errors.As(err, &short):
		return "", invalid("invalid_phone", field, "%q is not a phone number of %s (%s): write it with + and the country code if it is another country's", s, short.Region, r.whose).quoting(s)
	case errors.Is(err, phone.ErrCallingCode):
		return "", invalid("invalid_phone", field, "%q has no country's calling code after the + or 00 (+1, +44, +49...)", s).quoting(s)
	case errors.Is(err, phone.ErrExtension):
		return "", invalid("invalid_phone", field, "%q has an extension (;ext=): an SMS or a voice call dials the number, never an extension: give it without", s).quoting(s)
	case errors.As(err, &long):
		return "", invalid("invalid_phone", field, "%q is not a phone number of +%s: no number there has %d digits after the country code (a digit too many or too few?)", s, long.Code, long.Digits).quoting(s)
	}
	return "", invalid("invalid_phone", field, "%q is not an E.164 number (+ and 7 to 15 digits, e.g. +15551230123)", s).quoting(s)
}
